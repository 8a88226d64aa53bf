// SPDX-License-Identifier: MIT
//
// govmomi-import: runs govmomi's own OVF code on a descriptor: ovf.Unmarshal
// (the ovf package) and OvfManager.CreateImportSpec of govmomi's vCenter
// simulator (simulator/ovf_manager.go), the path `govc import.ova` takes.
// For each configuration (or the one given with -config) it prints one
// line of JSON: configuration, guest id, hardware version, firmware, the
// disks the import spec uploads (FileItem paths) and every error or
// warning CreateImportSpec returned.
//
// Built by tests/compat/govmomi.sh from Debian's golang-github-vmware-
// govmomi-dev (GOPATH=/usr/share/gocode, GO111MODULE=off, no network).
package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/ovf"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

type result struct {
	Configuration string   `json:"configuration"`
	GuestID       string   `json:"guest_id"`
	Version       string   `json:"version"`
	Firmware      string   `json:"firmware"`
	Disks         []string `json:"disks"`
	Errors        []string `json:"errors"`
	Warnings      []string `json:"warnings"`
}

func main() {
	config := flag.String("config", "", "only this configuration (default: every one in DeploymentOptionSection)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: govmomi-import [-config ID] FILE.ovf")
		os.Exit(2)
	}
	desc, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env, err := ovf.Unmarshal(bytesReader(desc))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ovf.Unmarshal:", err)
		os.Exit(1)
	}
	var configs []string
	if *config != "" {
		configs = []string{*config}
	} else if env.DeploymentOption != nil {
		for _, c := range env.DeploymentOption.Configuration {
			configs = append(configs, c.ID)
		}
	}
	if len(configs) == 0 {
		configs = []string{""}
	}

	model := simulator.ESX()
	defer model.Remove()
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = model.Run(func(ctx context.Context, c *vim25.Client) error {
		finder := find.NewFinder(c)
		dc, err := finder.DefaultDatacenter(ctx)
		if err != nil {
			return err
		}
		finder.SetDatacenter(dc)
		ds, err := finder.DefaultDatastore(ctx)
		if err != nil {
			return err
		}
		rp, err := finder.DefaultResourcePool(ctx)
		if err != nil {
			return err
		}
		m := ovf.NewManager(c)
		for _, id := range configs {
			cisp := types.OvfCreateImportSpecParams{EntityName: "xova-test"}
			cisp.DeploymentOption = id
			spec, err := m.CreateImportSpec(ctx, string(desc), rp, ds, cisp)
			if err != nil {
				return fmt.Errorf("CreateImportSpec(%q): %v", id, err)
			}
			r := result{Configuration: id, Disks: []string{}, Errors: []string{}, Warnings: []string{}}
			for _, e := range spec.Error {
				r.Errors = append(r.Errors, e.LocalizedMessage)
			}
			for _, w := range spec.Warning {
				r.Warnings = append(r.Warnings, w.LocalizedMessage)
			}
			for _, f := range spec.FileItem {
				r.Disks = append(r.Disks, f.Path)
			}
			if is, ok := spec.ImportSpec.(*types.VirtualMachineImportSpec); ok {
				r.GuestID = is.ConfigSpec.GuestId
				r.Version = is.ConfigSpec.Version
			}
			// govmomi 0.24's ovf package has no vmw:Config (newer ones
			// map it to ConfigSpec.Firmware): read it with encoding/xml
			r.Firmware = vmwFirmware(desc)
			out, _ := json.Marshal(r)
			fmt.Println(string(out))
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func bytesReader(b []byte) *byteReader { return &byteReader{b: b} }

type byteReader struct {
	b []byte
	o int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.o >= len(r.b) {
		return 0, eof
	}
	n := copy(p, r.b[r.o:])
	r.o += n
	return n, nil
}

var eof = io.EOF

// vmwFirmware returns the value of <vmw:Config vmw:key="firmware"> in the
// VirtualHardwareSection.
func vmwFirmware(desc []byte) string {
	const vmw = "http://www.vmware.com/schema/ovf"
	d := xml.NewDecoder(bytesReader(desc))
	for {
		t, err := d.Token()
		if err != nil {
			return ""
		}
		se, ok := t.(xml.StartElement)
		if !ok || se.Name.Space != vmw || se.Name.Local != "Config" {
			continue
		}
		var key, value string
		for _, a := range se.Attr {
			if a.Name.Space == vmw && a.Name.Local == "key" {
				key = a.Value
			}
			if a.Name.Space == vmw && a.Name.Local == "value" {
				value = a.Value
			}
		}
		if key == "firmware" {
			return value
		}
	}
}
