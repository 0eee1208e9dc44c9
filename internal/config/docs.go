package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Markdown renders docs/configuration.md from the Config struct tags.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Configuration\n\n")
	b.WriteString("<!-- Generated from internal/config/config.go by `go run ./cmd/hearth config-docs`; do not edit by hand. -->\n\n")
	b.WriteString("Every setting is a command-line flag and a `HEARTH_*` environment variable; flags win over the environment.\n")
	b.WriteString("`hearth --help` prints the same list. A boolean flag is on with `--flag` (or `--flag=true`); one on by\n")
	b.WriteString("default, shown as `--[no-]flag`, is turned off with `--no-flag` (or `--flag=false`, or its variable set to `false`).\n\n")
	b.WriteString("| Flag | Environment | Default | Description |\n|---|---|---|---|\n")
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		def := f.Tag.Get("default")
		if def == "" {
			def = "(empty)"
		}
		name := f.Tag.Get("name")
		if _, ok := f.Tag.Lookup("negatable"); ok {
			// As `hearth --help` shows it: the --no- form is how an operator
			// turns off a setting that is on by default.
			name = "[no-]" + name
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | `%s` | %s |\n", name, f.Tag.Get("env"), def, strings.ReplaceAll(f.Tag.Get("help"), "|", "\\|"))
	}
	return b.String()
}
