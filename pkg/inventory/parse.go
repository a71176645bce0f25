package inventory

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Format is an inventory file's syntax.
type Format string

// Formats.
const (
	FormatCSV  Format = "csv"
	FormatYAML Format = "yaml"
)

// Columns of an inventory file, in the order the CSV example uses.
var Columns = []string{"name", "kind", "site", "address", "credential", "tags", "managed_by", "api_address"}

var requiredColumns = []string{"name", "kind", "site", "address", "credential"}

// Row is one parsed, valid inventory row. HasTags/HasManagedBy say whether the
// file gave those optional fields: when it did not, Import keeps the stored values.
type Row struct {
	Line         int
	Device       Device
	HasTags      bool
	HasManagedBy bool
	// HasAPIAddress: the file has the api_address column.
	HasAPIAddress bool
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// DetectFormat decides by extension (.csv; .yaml, .yml, .json), else by content.
func DetectFormat(filename string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".csv":
		return FormatCSV
	case ".yaml", ".yml", ".json":
		return FormatYAML
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		// A CSV header is comma-separated words; YAML starts with a list
		// item, a flow collection or a "key:".
		if strings.HasPrefix(line, "-") || strings.HasPrefix(line, "{") || strings.HasPrefix(line, "[") || !strings.Contains(line, ",") {
			return FormatYAML
		}
		return FormatCSV
	}
	return FormatCSV
}

// Parse reads a CSV or YAML inventory and validates every row against cat.
// It returns all problems at once, each with its file line, as a
// *ValidationError; rows are returned only when there is no problem at all.
func Parse(filename string, data []byte, cat Catalog) ([]Row, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	var (
		raws  []rawRow
		probs []Problem
	)
	if DetectFormat(filename, data) == FormatCSV {
		raws, probs = readCSV(data)
	} else {
		raws, probs = readYAML(data)
	}
	if len(probs) == 0 && len(raws) == 0 {
		probs = append(probs, Problem{Line: 1, Message: "no devices in file"})
	}

	ix := cat.index()
	rows := make([]Row, 0, len(raws))
	firstLine := map[string]int{}
	for _, r := range raws {
		row, rp := r.toRow(ix)
		probs = append(probs, rp...)
		if r.fields["name"] != "" {
			if prev, dup := firstLine[r.fields["name"]]; dup {
				probs = append(probs, Problem{Line: r.lineOf("name"), Field: "name",
					Message: fmt.Sprintf("duplicate name %q (first on line %d)", r.fields["name"], prev)})
			} else {
				firstLine[r.fields["name"]] = r.line
			}
		}
		rows = append(rows, row)
	}
	if len(probs) > 0 {
		return nil, newValidationError(filepath.Base(filename), probs)
	}
	return rows, nil
}

// rawRow is a row as read, before validation.
type rawRow struct {
	line       int
	fields     map[string]string
	fieldLines map[string]int
	tagsMap    map[string]string // YAML tags given as a mapping
	has        map[string]bool
	probs      []Problem // syntax problems found while reading
}

func (r rawRow) lineOf(field string) int {
	if l, ok := r.fieldLines[field]; ok && l > 0 {
		return l
	}
	return r.line
}

func (r rawRow) toRow(ix catIndex) (Row, []Problem) {
	probs := append([]Problem(nil), r.probs...)
	d := Device{
		Name:       r.fields["name"],
		Site:       r.fields["site"],
		Address:    r.fields["address"],
		Credential: r.fields["credential"],
		ManagedBy:  r.fields["managed_by"],
		APIAddress: r.fields["api_address"],
	}
	kindOK := true
	if k := r.fields["kind"]; k == "" {
		probs = append(probs, Problem{Line: r.lineOf("kind"), Field: "kind", Message: "required (fmc or ftd)"})
		kindOK = false
	} else if kind, err := ParseKind(k); err != nil {
		probs = append(probs, Problem{Line: r.lineOf("kind"), Field: "kind", Message: err.Error()})
		kindOK = false
	} else {
		d.Kind = kind
	}
	tagsOK := true
	switch {
	case r.tagsMap != nil:
		d.Tags = r.tagsMap
	default:
		tags, err := ParseTags(r.fields["tags"])
		if err != nil {
			probs = append(probs, Problem{Line: r.lineOf("tags"), Field: "tags", Message: err.Error()})
			tagsOK = false
		}
		d.Tags = tags
	}
	for _, p := range validateDevice(d, ix, r.line) {
		if (p.Field == "kind" && !kindOK) || (p.Field == "tags" && !tagsOK) {
			continue // already reported with a better message
		}
		p.Line = r.lineOf(p.Field)
		probs = append(probs, p)
	}
	return Row{Line: r.line, Device: d, HasTags: r.has["tags"], HasManagedBy: r.has["managed_by"],
		HasAPIAddress: r.has["api_address"]}, probs
}

func knownColumn(c string) bool {
	for _, k := range Columns {
		if c == k {
			return true
		}
	}
	return false
}

func readCSV(data []byte) ([]rawRow, []Problem) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = 0 // every record must have as many fields as the header
	cr.ReuseRecord = false

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, []Problem{{Line: 1, Message: "empty file (want a header: " + strings.Join(Columns, ",") + ")"}}
	}
	if err != nil {
		return nil, []Problem{csvProblem(err)}
	}
	headerLine, _ := cr.FieldPos(0)
	var probs []Problem
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		c := strings.ToLower(strings.TrimSpace(h))
		cols[i] = c
		switch {
		case !knownColumn(c):
			probs = append(probs, Problem{Line: headerLine, Field: c, Message: fmt.Sprintf(
				"unknown column %q (columns: %s; the first line must be the header)", h, strings.Join(Columns, ", "))})
		case seen[c]:
			probs = append(probs, Problem{Line: headerLine, Field: c, Message: fmt.Sprintf("column %q given twice", c)})
		}
		seen[c] = true
	}
	for _, c := range requiredColumns {
		if !seen[c] {
			probs = append(probs, Problem{Line: headerLine, Field: c, Message: fmt.Sprintf("missing required column %q", c)})
		}
	}
	if len(probs) > 0 {
		return nil, probs // rows cannot be read without a sound header
	}

	var rows []rawRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				probs = append(probs, Problem{Line: pe.StartLine, Message: fmt.Sprintf(
					"%d fields, the header has %d", len(rec), len(header))})
				continue
			}
			// Quoting errors leave the reader's position uncertain: stop here.
			probs = append(probs, csvProblem(err))
			break
		}
		line, _ := cr.FieldPos(0)
		r := rawRow{line: line, fields: map[string]string{}, fieldLines: map[string]int{}, has: map[string]bool{}}
		for i, v := range rec {
			r.fields[cols[i]] = strings.TrimSpace(v)
			r.fieldLines[cols[i]], _ = cr.FieldPos(i)
			r.has[cols[i]] = true
		}
		rows = append(rows, r)
	}
	return rows, probs
}

func csvProblem(err error) Problem {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return Problem{Line: pe.Line, Message: "CSV syntax: " + pe.Err.Error()}
	}
	return Problem{Line: 1, Message: "CSV syntax: " + err.Error()}
}

func readYAML(data []byte) ([]rawRow, []Problem) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []Problem{yamlProblem(err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty document: "no devices"
	}
	root := doc.Content[0]
	list := root
	if root.Kind == yaml.MappingNode {
		list = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if k.Value != "devices" {
				return nil, []Problem{{Line: k.Line, Field: k.Value, Message: fmt.Sprintf("unknown key %q (want a list of devices, or devices: [...])", k.Value)}}
			}
			list = v
		}
		if list == nil {
			return nil, nil
		}
	}
	if list.Kind != yaml.SequenceNode {
		return nil, []Problem{{Line: list.Line, Message: "want a list of devices (or devices: [...])"}}
	}

	var rows []rawRow
	var probs []Problem
	for _, item := range list.Content {
		if item.Kind != yaml.MappingNode {
			probs = append(probs, Problem{Line: item.Line, Message: "a device must be a mapping (name: ..., kind: ...)"})
			continue
		}
		r := rawRow{line: item.Line, fields: map[string]string{}, fieldLines: map[string]int{}, has: map[string]bool{}}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			key := strings.ToLower(k.Value)
			switch {
			case !knownColumn(key):
				r.probs = append(r.probs, Problem{Line: k.Line, Field: k.Value, Message: fmt.Sprintf("unknown key %q (keys: %s)", k.Value, strings.Join(Columns, ", "))})
				continue
			case r.has[key]:
				r.probs = append(r.probs, Problem{Line: k.Line, Field: key, Message: fmt.Sprintf("%q given twice", key)})
				continue
			}
			r.has[key] = true
			r.fieldLines[key] = v.Line
			switch {
			case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
				r.fields[key] = ""
			case v.Kind == yaml.ScalarNode:
				r.fields[key] = strings.TrimSpace(v.Value)
			case key == "tags" && v.Kind == yaml.MappingNode:
				tags, p := yamlTags(v)
				r.probs = append(r.probs, p...)
				r.tagsMap = tags
			default:
				r.probs = append(r.probs, Problem{Line: v.Line, Field: key, Message: "must be a single value"})
			}
		}
		rows = append(rows, r)
	}
	return rows, probs
}

func yamlTags(m *yaml.Node) (map[string]string, []Problem) {
	tags := map[string]string{}
	var probs []Problem
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			probs = append(probs, Problem{Line: v.Line, Field: "tags", Message: fmt.Sprintf("tag %q must be a single value", k.Value)})
			continue
		}
		if _, dup := tags[k.Value]; dup {
			probs = append(probs, Problem{Line: k.Line, Field: "tags", Message: fmt.Sprintf("tag %q given twice", k.Value)})
			continue
		}
		tags[k.Value] = v.Value
	}
	return tags, probs
}

func yamlProblem(err error) Problem {
	// yaml.v3 messages start with "yaml: line N: ..."; keep them whole, and
	// pull the line out so the problem sorts and renders like the others.
	msg := err.Error()
	line := 1
	var n int
	if _, scanErr := fmt.Sscanf(strings.TrimPrefix(msg, "yaml: "), "line %d:", &n); scanErr == nil && n > 0 {
		line = n
		if _, rest, ok := strings.Cut(msg, fmt.Sprintf("line %d: ", n)); ok {
			msg = rest
		}
	}
	return Problem{Line: line, Message: "YAML syntax: " + msg}
}

// sortProblems orders problems by line, then by column, so that output
// reads like the file.
func sortProblems(p []Problem) {
	rank := func(field string) int {
		if i := slices.Index(Columns, field); i >= 0 {
			return i
		}
		return len(Columns)
	}
	slices.SortStableFunc(p, func(a, b Problem) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(rank(a.Field), rank(b.Field))
	})
}
