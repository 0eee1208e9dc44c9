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
	b.WriteString("`hearth --help` prints the same list.\n\n")
	b.WriteString("| Flag | Environment | Default | Description |\n|---|---|---|---|\n")
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		def := f.Tag.Get("default")
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | `%s` | %s |\n", f.Tag.Get("name"), f.Tag.Get("env"), def, strings.ReplaceAll(f.Tag.Get("help"), "|", "\\|"))
	}
	return b.String()
}
