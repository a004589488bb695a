package main

import (
	"context"
	"errors"
	"flag"
	"os"

	"github.com/wdm-knative/webshop/cluster/internal/funcdeploy"
	"github.com/wdm-knative/webshop/cluster/internal/image"
	"github.com/wdm-knative/webshop/cluster/internal/phases"
	"github.com/wdm-knative/webshop/cluster/internal/shopimages"
)

// What `func deploy` does, in two steps, since the func CLI cannot be built
// here: func-image is its build and push (into the cluster's containerd),
// func-service the Service its knative deployer creates, for kubectl apply:
//
//	wdm-cluster func-service $(wdm-cluster func-image) | kubectl apply -f -

// funcImage builds the function of func.yaml as func's Go scaffolding
// does, imports the image and prints its pinned reference.
func funcImage(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("func-image", flag.ExitOnError)
	file := fs.String("f", "func.yaml", "the function's func.yaml, at its module's root")
	_ = fs.Parse(args)
	return printPinned(ctx, func(info phases.Info) (image.Spec, error) { return shopimages.Func(ctx, *file, info.Cache) })
}

// funcService prints the Knative Service func deploy makes of func.yaml
// for the image given.
func funcService(args []string) error {
	fs := flag.NewFlagSet("func-service", flag.ExitOnError)
	file := fs.String("f", "func.yaml", "the function's func.yaml")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("usage: wdm-cluster func-service [-f func.yaml] IMAGE")
	}
	f, err := funcdeploy.Read(*file)
	if err != nil {
		return err
	}
	s, err := funcdeploy.Render(f, funcdeploy.Options{Image: fs.Arg(0)})
	if err != nil {
		return err
	}
	out, err := s.YAML()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
