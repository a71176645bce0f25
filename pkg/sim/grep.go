package sim

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

type grepOpts struct {
	extended, fixed, ignoreCase, invert, count, quiet, number, word, only, listFiles bool
	patterns                                                                         []string
	files                                                                            []string
}

func parseGrepArgs(name string, args []string) (grepOpts, string) {
	o := grepOpts{extended: name == "egrep", fixed: name == "fgrep"}
	havePattern := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest := args[i+1:]
			if !havePattern && len(rest) > 0 {
				o.patterns = append(o.patterns, rest[0])
				havePattern = true
				rest = rest[1:]
			}
			o.files = append(o.files, rest...)
			return o, ""
		case a == "-e" || a == "--regexp":
			if i+1 >= len(args) {
				return o, "option requires an argument -- 'e'"
			}
			o.patterns = append(o.patterns, args[i+1])
			havePattern = true
			i++
		case strings.HasPrefix(a, "--regexp="):
			o.patterns = append(o.patterns, strings.TrimPrefix(a, "--regexp="))
			havePattern = true
		case strings.HasPrefix(a, "--color"), a == "--line-buffered":
		case a == "--extended-regexp":
			o.extended = true
		case a == "--fixed-strings":
			o.fixed = true
		case a == "--ignore-case":
			o.ignoreCase = true
		case a == "--invert-match":
			o.invert = true
		case a == "--count":
			o.count = true
		case a == "--quiet", a == "--silent":
			o.quiet = true
		case strings.HasPrefix(a, "-") && len(a) > 1 && !strings.HasPrefix(a, "--"):
			for j := 1; j < len(a); j++ {
				switch a[j] {
				case 'E':
					o.extended = true
				case 'F':
					o.fixed = true
				case 'G':
					o.extended, o.fixed = false, false
				case 'i', 'y':
					o.ignoreCase = true
				case 'v':
					o.invert = true
				case 'c':
					o.count = true
				case 'q', 's':
					o.quiet = o.quiet || a[j] == 'q'
				case 'n':
					o.number = true
				case 'w':
					o.word = true
				case 'o':
					o.only = true
				case 'l':
					o.listFiles = true
				case 'a', 'h', 'H', 'I', 'r':
				case 'e':
					pat := a[j+1:]
					if pat == "" {
						if i+1 >= len(args) {
							return o, "option requires an argument -- 'e'"
						}
						i++
						pat = args[i]
					}
					o.patterns = append(o.patterns, pat)
					havePattern = true
					j = len(a)
				default:
					return o, fmt.Sprintf("invalid option -- '%c'", a[j])
				}
			}
		case strings.HasPrefix(a, "--"):
			return o, fmt.Sprintf("unrecognized option '%s'", a)
		default:
			if !havePattern {
				o.patterns = append(o.patterns, a)
				havePattern = true
			} else {
				o.files = append(o.files, a)
			}
		}
	}
	if !havePattern {
		return o, "usage"
	}
	return o, ""
}

// breToRE2 turns a POSIX basic regular expression into Go syntax: in BRE
// \( \) \| \{ \} \+ \? are operators and the bare characters are literal.
func breToRE2(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			n := p[i+1]
			if strings.IndexByte("(){}|+?", n) >= 0 {
				b.WriteByte(n)
			} else {
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			i++
		case strings.IndexByte("(){}|+?", c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '*' && (i == 0 || p[i-1] == '^' && i == 1):
			b.WriteString(`\*`)
		case c == '[':
			// Copy a bracket expression verbatim ("[]...]" included).
			j := i + 1
			if j < len(p) && p[j] == '^' {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				if p[j] == '[' && j+1 < len(p) && p[j+1] == ':' {
					if k := strings.Index(p[j:], ":]"); k > 0 {
						j += k + 2
						continue
					}
				}
				j++
			}
			if j >= len(p) {
				b.WriteString(regexp.QuoteMeta(p[i:]))
				return b.String()
			}
			b.WriteString(p[i : j+1])
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func cmdGrep(p *proc) int {
	o, msg := parseGrepArgs(p.args[0], p.args[1:])
	if msg == "usage" {
		p.errf("Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n")
		return 2
	}
	if msg != "" {
		p.errf("grep: %s\nUsage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n", msg)
		return 2
	}
	var alts []string
	for _, pat := range o.patterns {
		for _, line := range strings.Split(pat, "\n") {
			switch {
			case o.fixed:
				line = regexp.QuoteMeta(line)
			case !o.extended:
				line = breToRE2(line)
			}
			alts = append(alts, "(?:"+line+")")
		}
	}
	expr := strings.Join(alts, "|")
	if o.word {
		expr = `\b(?:` + expr + `)\b`
	}
	if o.ignoreCase {
		expr = "(?i)" + expr
	}
	re, err := compileGrep(expr)
	if err != nil {
		p.errf("grep: %s\n", grepError(err))
		return 2
	}
	type src struct{ name, text string }
	var srcs []src
	status := 0
	if len(o.files) == 0 {
		srcs = append(srcs, src{"(standard input)", string(p.stdin)})
	}
	for _, f := range o.files {
		c, msg := p.s.readFile(f)
		if msg != "" {
			p.errf("grep: %s: %s\n", f, msg)
			status = 2
			continue
		}
		srcs = append(srcs, src{f, c})
	}
	matched := false
	for _, sr := range srcs {
		n := 0
		for i, line := range splitLines(sr.text) {
			hit := re.MatchString(line)
			if hit == o.invert {
				continue
			}
			n++
			matched = true
			if o.quiet || o.count || o.listFiles {
				continue
			}
			prefix := ""
			if len(o.files) > 1 {
				prefix = sr.name + ":"
			}
			if o.number {
				prefix += fmt.Sprintf("%d:", i+1)
			}
			if o.only && !o.invert {
				for _, m := range re.FindAllString(line, -1) {
					fmt.Fprintln(p.out, prefix+m)
				}
				continue
			}
			fmt.Fprintln(p.out, prefix+line)
		}
		if o.quiet {
			continue
		}
		if o.listFiles && n > 0 {
			fmt.Fprintln(p.out, sr.name)
		}
		if o.count {
			if len(o.files) > 1 {
				fmt.Fprintf(p.out, "%s:%d\n", sr.name, n)
			} else {
				fmt.Fprintln(p.out, n)
			}
		}
	}
	switch {
	case status == 2 && !(o.quiet && matched):
		return 2
	case matched:
		return 0
	}
	return 1
}

// grepError words a regexp error like GNU grep.
func grepError(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "missing closing )"):
		return "Unmatched ( or \\("
	case strings.Contains(s, "unexpected )"):
		return "Unmatched ) or \\)"
	case strings.Contains(s, "missing closing ]"):
		return "Unmatched [, [^, [:, [., or [="
	case strings.Contains(s, "invalid escape"), strings.Contains(s, "trailing backslash"):
		return "Trailing backslash"
	}
	return "Invalid regular expression"
}

// grepREs caches compiled grep expressions: a diagnose greps the same few
// patterns on every device, and compiling them was 3 % of the bytes a
// session allocated (issue 15). Bounded: a hostile client typing endless
// distinct patterns makes the cache stop growing, not the simulator.
var (
	grepREMu sync.Mutex
	grepREs  = map[string]*regexp.Regexp{}
)

const grepREMax = 1024

func compileGrep(expr string) (*regexp.Regexp, error) {
	grepREMu.Lock()
	re, ok := grepREs[expr]
	grepREMu.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	grepREMu.Lock()
	if len(grepREs) < grepREMax {
		grepREs[expr] = re
	}
	grepREMu.Unlock()
	return re, nil
}
