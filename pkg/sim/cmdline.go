package sim

import (
	"fmt"
	"strings"
)

// A small bash-like command-line grammar: lists (; && ||) of pipelines of
// simple commands with words, quotes, $VAR and redirections. It is enough
// for what operators and fleetd type; it must never panic on any input.

// wordPart is a literal or a variable reference, expanded at run time so
// "false; echo $?" sees the right status.
type wordPart struct {
	lit string
	v   string // variable name when non-empty
}

type word []wordPart

type redirect struct {
	fd     int    // 0, 1 or 2
	op     string // "<", ">", ">>", ">&"
	target word
}

type simpleCmd struct {
	words  []word
	redirs []redirect
}

type pipeline struct {
	cmds []simpleCmd
}

type listItem struct {
	op   string // how it joins the previous item: "", ";", "&&", "||"
	pipe pipeline
}

type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

type tokKind uint8

const (
	tkWord tokKind = iota
	tkOp
)

type token struct {
	kind tokKind
	op   string
	w    word
	fd   int // for redirection operators
}

func nearToken(t string) error {
	return &syntaxError{fmt.Sprintf("syntax error near unexpected token `%s'", t)}
}

// lex splits a line into words and operators.
func lex(line string) ([]token, error) {
	var toks []token
	i := 0
	n := len(line)
	for i < n {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
			continue
		case c == '#':
			return toks, nil // comment
		case c == '|' || c == '&' || c == ';':
			if i+1 < n && line[i+1] == c && c != ';' {
				toks = append(toks, token{kind: tkOp, op: line[i : i+2]})
				i += 2
			} else {
				toks = append(toks, token{kind: tkOp, op: string(c)})
				i++
			}
			continue
		case c == '<' || c == '>':
			toks = append(toks, lexRedirect(line, &i, -1))
			continue
		case (c >= '0' && c <= '2') && i+1 < n && (line[i+1] == '>' || line[i+1] == '<'):
			i++
			toks = append(toks, lexRedirect(line, &i, int(c-'0')))
			continue
		}
		w, err := lexWord(line, &i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, token{kind: tkWord, w: w})
	}
	return toks, nil
}

func lexRedirect(line string, i *int, fd int) token {
	c := line[*i]
	*i++
	op := string(c)
	if c == '>' && *i < len(line) && line[*i] == '>' {
		op = ">>"
		*i++
	} else if *i < len(line) && line[*i] == '&' {
		op = string(c) + "&"
		*i++
	}
	if fd < 0 {
		fd = 1
		if c == '<' {
			fd = 0
		}
	}
	return token{kind: tkOp, op: op, fd: fd}
}

func isVarStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isVarChar(c byte) bool { return isVarStart(c) || (c >= '0' && c <= '9') }

// lexVar reads a $NAME, ${NAME} or $? starting after the '$'.
func lexVar(line string, i *int) (string, bool) {
	n := len(line)
	if *i >= n {
		return "", false
	}
	c := line[*i]
	switch {
	case c == '?' || c == '$' || c == '#' || (c >= '0' && c <= '9'):
		*i++
		return string(c), true
	case c == '{':
		end := strings.IndexByte(line[*i:], '}')
		if end < 0 {
			return "", false
		}
		name := line[*i+1 : *i+end]
		*i += end + 1
		return name, true
	case isVarStart(c):
		start := *i
		for *i < n && isVarChar(line[*i]) {
			*i++
		}
		return line[start:*i], true
	}
	return "", false
}

func lexWord(line string, i *int) (word, error) {
	var w word
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			w = append(w, wordPart{lit: lit.String()})
			lit.Reset()
		}
	}
	quoted := false
	n := len(line)
	for *i < n {
		c := line[*i]
		switch {
		case c == ' ' || c == '\t' || c == '|' || c == '&' || c == ';' || c == '<' || c == '>':
			flush()
			if len(w) == 0 && quoted {
				w = append(w, wordPart{})
			}
			return w, nil
		case c == '\\':
			if *i+1 < n {
				lit.WriteByte(line[*i+1])
				*i += 2
			} else {
				*i++
			}
		case c == '\'':
			end := strings.IndexByte(line[*i+1:], '\'')
			if end < 0 {
				return nil, &syntaxError{"unexpected EOF while looking for matching `''"}
			}
			lit.WriteString(line[*i+1 : *i+1+end])
			*i += end + 2
			quoted = true
		case c == '"':
			*i++
			closed := false
			for *i < n {
				d := line[*i]
				if d == '"' {
					*i++
					closed = true
					break
				}
				if d == '\\' && *i+1 < n && strings.IndexByte("\"\\$`", line[*i+1]) >= 0 {
					lit.WriteByte(line[*i+1])
					*i += 2
					continue
				}
				if d == '$' {
					*i++
					if name, ok := lexVar(line, i); ok {
						flush()
						w = append(w, wordPart{v: name})
						continue
					}
					lit.WriteByte('$')
					continue
				}
				lit.WriteByte(d)
				*i++
			}
			if !closed {
				return nil, &syntaxError{"unexpected EOF while looking for matching `\"'"}
			}
			quoted = true
		case c == '$':
			*i++
			if name, ok := lexVar(line, i); ok {
				flush()
				w = append(w, wordPart{v: name})
				continue
			}
			lit.WriteByte('$')
		default:
			lit.WriteByte(c)
			*i++
		}
	}
	flush()
	if len(w) == 0 && quoted {
		w = append(w, wordPart{})
	}
	return w, nil
}

// parseLine turns a command line into a list of pipelines.
func parseLine(line string) ([]listItem, error) {
	toks, err := lex(line)
	if err != nil {
		return nil, err
	}
	var items []listItem
	var cur simpleCmd
	var pipe pipeline
	op := ""
	endCmd := func(tok string) error {
		if len(cur.words) == 0 && len(cur.redirs) == 0 {
			return nearToken(tok)
		}
		pipe.cmds = append(pipe.cmds, cur)
		cur = simpleCmd{}
		return nil
	}
	for k := 0; k < len(toks); k++ {
		t := toks[k]
		if t.kind == tkWord {
			cur.words = append(cur.words, t.w)
			continue
		}
		switch t.op {
		case "|":
			if err := endCmd(t.op); err != nil {
				return nil, err
			}
		case ";", "&&", "||", "&":
			if err := endCmd(t.op); err != nil {
				return nil, err
			}
			items = append(items, listItem{op: op, pipe: pipe})
			pipe = pipeline{}
			op = t.op
			if op == "&" {
				op = ";" // no job control: run in the foreground
			}
		case "<", ">", ">>", ">&", "<&":
			if k+1 >= len(toks) || toks[k+1].kind != tkWord {
				return nil, nearToken("newline")
			}
			k++
			cur.redirs = append(cur.redirs, redirect{fd: t.fd, op: t.op, target: toks[k].w})
		default:
			return nil, nearToken(t.op)
		}
	}
	if len(cur.words) > 0 || len(cur.redirs) > 0 {
		pipe.cmds = append(pipe.cmds, cur)
	} else if len(pipe.cmds) > 0 || (op != "" && op != ";") {
		return nil, &syntaxError{"syntax error: unexpected end of file"}
	}
	if len(pipe.cmds) > 0 {
		items = append(items, listItem{op: op, pipe: pipe})
	}
	return items, nil
}

// expand turns a word into its string with lookup for variables.
func (w word) expand(lookup func(string) string) string {
	if len(w) == 1 && w[0].v == "" {
		return w[0].lit
	}
	var b strings.Builder
	for _, p := range w {
		if p.v != "" {
			b.WriteString(lookup(p.v))
		} else {
			b.WriteString(p.lit)
		}
	}
	return b.String()
}
