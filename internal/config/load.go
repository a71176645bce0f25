package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// EnvPrefix prefixes every environment variable that sets a config key.
const EnvPrefix = "FLEETD"

// DefaultPaths are tried in order when Load is given no path.
var DefaultPaths = []string{"./config/fleetd.yaml", "/etc/fleetd/fleetd.yaml"}

// Load reads the YAML file at path (or the first of DefaultPaths that exists
// when path is empty), applies FLEETD_* environment overrides on top of
// Default, and validates the result. Unknown keys, values of the wrong type
// and invalid values are all reported, each naming its key.
func Load(path string) (Config, error) {
	if path == "" {
		for _, p := range DefaultPaths {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return Config{}, fmt.Errorf("no config file found (looked in %s); pass --config FILE", strings.Join(DefaultPaths, ", "))
		}
	}

	body, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	// Unknown keys are checked on the file itself: viper drops empty sections
	// and lower-cases names, which would hide mistakes.
	var fileTree any
	if err := yaml.Unmarshal(body, &fileTree); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	var p problems
	checkKeys(&p, "", normalize(fileTree), reflect.TypeOf(Config{}))
	if err := p.err(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}

	v := viper.New()
	v.SetConfigFile(path)
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".yaml" && ext != ".yml" && ext != ".json" {
		v.SetConfigType("yaml")
	}
	if err := v.ReadInConfig(); err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", path, err)
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	// AutomaticEnv only overrides keys viper already knows (those in the file);
	// bind every fixed key so FLEETD_API_LISTEN works without an api: section.
	v.AutomaticEnv()
	for _, key := range fixedKeys(reflect.TypeOf(Config{}), "") {
		if err := v.BindEnv(key); err != nil {
			return Config{}, fmt.Errorf("bind env for %s: %w", key, err)
		}
	}

	raw := v.AllSettings()
	cfg, err := decode(raw)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// decode turns viper's settings into a Config over the defaults. Unknown keys
// were reported by Load already; ErrorUnused is a backstop.
func decode(raw map[string]any) (Config, error) {
	cfg := Default()
	// A file that lists regions extends the built-in table; one that names a
	// built-in region replaces that entry whole (decoding into a fresh value).
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           &cfg,
		WeaklyTypedInput: true, // environment values are strings
		ErrorUnused:      true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			mapstructure.StringToSliceHookFunc(","),
			prefixHook,
		),
	})
	if err != nil {
		return Config{}, fmt.Errorf("decoder: %w", err)
	}
	if err := dec.Decode(raw); err != nil {
		return Config{}, decodeProblems(err)
	}
	for name, s := range cfg.Sites {
		cfg.Sites[name] = applySiteDefaults(s)
	}
	return cfg, nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	prefixType   = reflect.TypeOf(netip.Prefix{})
)

// prefixHook parses a CIDR network ("10.20.0.0/16"); the decoder prefixes the
// error with the key (sites.emea.allowed_networks[0]).
func prefixHook(from, to reflect.Type, data any) (any, error) {
	if to != prefixType || from.Kind() != reflect.String {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, fmt.Errorf("not a CIDR network such as 10.20.0.0/16 or 2001:db8::/32: %q", s)
	}
	return p, nil
}

// durationHook parses "90s"-style durations and rejects bare numbers, which
// would otherwise be taken as nanoseconds ("connect_timeout: 10" = 10ns).
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		s := strings.TrimSpace(data.(string))
		if s == "" || s == "0" {
			return time.Duration(0), nil
		}
		// Whole days ("90d"), for retention; Go's durations stop at hours.
		if days, ok := strings.CutSuffix(s, "d"); ok {
			if n, err := strconv.Atoi(days); err == nil && n >= 0 {
				return time.Duration(n) * 24 * time.Hour, nil
			}
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("not a duration: %q (use a unit, e.g. \"30s\", \"2h\", \"90d\")", s)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("duration %v has no unit (write e.g. \"%vs\" or \"%vm\")", data, data, data)
	}
	return data, nil
}

// checkKeys reports every key in raw that t has no field for.
func checkKeys(p *problems, prefix string, raw any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return // wrong type (or an empty section): the decoder reports it
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		sort.Strings(names)
		for k, v := range m {
			key := joinKey(prefix, k)
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				where := "top level"
				if prefix != "" {
					where = prefix
				}
				p.add(key, "unknown key (known at %s: %s)", where, strings.Join(names, ", "))
				continue
			}
			checkKeys(p, key, v, ft)
		}
	case reflect.Map:
		if m, ok := raw.(map[string]any); ok {
			for k, v := range m {
				if k != strings.ToLower(k) {
					// viper lower-cases keys: "EMEA" would silently become "emea".
					p.add(joinKey(prefix, k), "names must be lower-case")
				}
				checkKeys(p, joinKey(prefix, k), v, t.Elem())
			}
		}
	case reflect.Slice:
		if s, ok := raw.([]any); ok {
			for i, v := range s {
				checkKeys(p, fmt.Sprintf("%s[%d]", prefix, i), v, t.Elem())
			}
		}
	}
}

// normalize turns yaml.v3's map[any]any (non-string keys) into map[string]any, recursively.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	}
	return v
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// fixedKeys lists the dotted keys of every leaf reachable through structs
// only (not through maps or lists, whose keys are the user's names).
func fixedKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := joinKey(prefix, tag)
		switch {
		case f.Type.Kind() == reflect.Struct:
			out = append(out, fixedKeys(f.Type, key)...)
		case f.Type.Kind() == reflect.Map || (f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct):
			// named entries / lists of entries: not bindable by a fixed name
		default:
			out = append(out, key)
		}
	}
	return out
}

var bracketRE = regexp.MustCompile(`\[([^\]]*)\]`)

// decodeProblems rewrites mapstructure's error tree into one line per key,
// with map entries as dotted keys ("sites[emea].max_concurrent" becomes
// "sites.emea.max_concurrent") to match Validate's messages.
func decodeProblems(err error) error {
	var p problems
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		var de *mapstructure.DecodeError
		if errors.As(e, &de) {
			name := bracketRE.ReplaceAllStringFunc(de.Name(), func(m string) string {
				inner := m[1 : len(m)-1]
				if inner != "" && strings.Trim(inner, "0123456789") == "" {
					return m // list index stays [n]
				}
				return "." + inner
			})
			p.add(name, "%v", de.Unwrap())
			return
		}
		if w := errors.Unwrap(e); w != nil && w != e {
			walk(w)
			return
		}
		p = append(p, e.Error())
	}
	walk(err)
	return p.err()
}
