// Package schemas holds the CloudEvent types of the checkout saga: one JSON
// Schema (draft 2020-12) per event type describing the event's data, and the
// Go types that match them. The schema files are the contract for anyone
// producing or consuming these events without this Go code; the package
// schematest checks the Go side against them.
//
// All events are CloudEvents 1.0 with datacontenttype application/json,
// subject = saga id, and ids that are deterministic (see RequestedID,
// CompensateID, ReplyID) so a redelivered input yields the same output event.
package schemas

import "embed"

// Files are the JSON Schema documents: defs.json (shared definitions) and one
// <event type>.json per event type.
//
//go:embed *.json
var Files embed.FS

// BaseURI is the prefix of every schema's $id; a schema's $id is BaseURI +
// its file name.
const BaseURI = "https://schemas.webshop.example/"

// FileName is the schema file describing the data of events of type typ.
func FileName(typ string) string { return typ + ".json" }

// DataSchema is the dataschema attribute of events of type typ: the $id of
// the schema their data follows, so a subscriber can find it.
func DataSchema(typ string) string { return BaseURI + FileName(typ) }
