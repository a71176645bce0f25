package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
)

// Format is the value of the global -o flag.
type Format string

// Output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
)

// Formats lists the accepted -o values, for help and completion.
var Formats = []string{string(FormatTable), string(FormatJSON), string(FormatYAML)}

// ParseFormat validates an -o value (or the config file's output key).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatTable, FormatJSON, FormatYAML:
		return f, nil
	default:
		return "", fmt.Errorf("unknown output format %q (want %s)", s, strings.Join(Formats, ", "))
	}
}

// String implements pflag.Value.
func (f *Format) String() string { return string(*f) }

// Set implements pflag.Value; a bad value is a usage error (exit 2).
func (f *Format) Set(s string) error {
	v, err := ParseFormat(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Type implements pflag.Value.
func (f *Format) Type() string { return "format" }

// Render prints data as JSON or YAML for scripts, or calls table to print it
// for people. JSON and YAML carry the API's field names (docs/design.md) and are
// printed the same way whether or not stdout is a terminal.
func Render(ios *iostreams.IOStreams, format Format, data any, table func(*Table)) error {
	switch format {
	case FormatJSON:
		return WriteJSON(ios.Out, data)
	case FormatYAML:
		return WriteYAML(ios.Out, data)
	default:
		t := NewTable(ios)
		table(t)
		return t.Render()
	}
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// WriteYAML writes v as YAML with the same keys, in the same order, as its
// JSON form: v is encoded to JSON and that document re-emitted as block YAML,
// so a struct's json tags are the only naming that exists.
func WriteYAML(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	blockStyle(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	_ = enc.Close()
	_, err = w.Write(buf.Bytes())
	return err
}

// blockStyle clears the flow style yaml.v3 keeps from the JSON input, so the
// output reads as ordinary YAML; scalars are re-quoted only where needed.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && looksNonString(n.Value) {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// looksNonString reports whether a string would read back as another type
// if printed bare (e.g. "true", "123", "" or "null").
func looksNonString(s string) bool {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return true
	}
	_, isString := v.(string)
	return !isString
}

// Table prints rows for people (aligned, with a header) when stdout is a
// terminal, and as stable tab-separated lines without a header when piped, so
// `fleetctl device list | cut -f1` works.
type Table struct {
	ios     *iostreams.IOStreams
	headers []string
	rows    [][]string
}

// NewTable returns an empty table writing to ios.Out.
func NewTable(ios *iostreams.IOStreams) *Table { return &Table{ios: ios} }

// Header sets the column names (shown on a terminal only).
func (t *Table) Header(cols ...string) { t.headers = cols }

// Row appends one row.
func (t *Table) Row(fields ...string) { t.rows = append(t.rows, fields) }

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table.
func (t *Table) Render() error {
	if !t.ios.IsStdoutTTY() {
		var b strings.Builder
		for _, r := range t.rows {
			for i, f := range r {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(cleanField(f))
			}
			b.WriteByte('\n')
		}
		_, err := io.WriteString(t.ios.Out, b.String())
		return err
	}
	tw := tabwriter.NewWriter(t.ios.Out, 0, 4, 2, ' ', 0)
	if len(t.headers) > 0 {
		hs := make([]string, len(t.headers))
		for i, h := range t.headers {
			hs[i] = strings.ToUpper(h)
		}
		fmt.Fprintln(tw, strings.Join(hs, "\t"))
	}
	for _, r := range t.rows {
		fs := make([]string, len(r))
		for i, f := range r {
			fs[i] = cleanField(f)
			if fs[i] == "" {
				fs[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(fs, "\t"))
	}
	return tw.Flush()
}

// cleanField keeps one row on one line whatever a value contains.
func cleanField(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return ' '
		}
		return r
	}, s)
}
