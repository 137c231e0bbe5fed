// Package config reads a function's settings from the environment map its Start hook
// receives. Each function declares one struct with envconfig-style tags
// (`envconfig:"NAME"`, `default:"..."`, `required:"true"`); Load fills it and names the
// variable that is missing or bad, never its value, so readiness can say exactly what to
// fix without echoing a secret.
//
// Load reads the map it is given and nothing else. kelseyhightower/envconfig reads only the
// process environment, so using it meant writing the map into the process environment under
// a lock, where any concurrent os.Getenv (pgx reads PG* variables while connecting) could
// see another function's values; the tag dialect stays the same.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Load fills spec, a pointer to a struct, from env. A field is named by its `envconfig`
// tag; an anonymous (embedded) struct field, or a struct field without a tag, has its
// fields read in turn. A variable that is absent or empty takes the field's `default`
// tag, if any; a `required:"true"` field with neither is an error. Lists ([]string) are
// comma-separated; durations use Go's syntax (720h). A field tagged `ignored:"true"` is
// no setting and is left as it is.
func Load(env map[string]string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return errors.New("config: Load needs a pointer to a struct")
	}
	return loadStruct(env, v.Elem())
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func loadStruct(env map[string]string, v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		if f.Tag.Get("ignored") == "true" {
			// Not a setting: filled by the caller (a test's clock, say).
			continue
		}
		field := v.Field(i)
		name, tagged := f.Tag.Lookup("envconfig")
		if !tagged {
			if f.Type.Kind() == reflect.Struct {
				if err := loadStruct(env, field); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("config: field %s.%s has no envconfig tag", t.Name(), f.Name)
		}
		raw := env[name]
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			if f.Tag.Get("required") == "true" {
				return fmt.Errorf("config: %s is required", name)
			}
			field.SetZero()
			continue
		}
		if err := set(field, raw); err != nil {
			return fmt.Errorf("config: %s is not a valid %s", name, kindName(f.Type))
		}
	}
	return nil
}

// set parses raw into field. Its errors are never shown: they may quote the value.
func set(field reflect.Value, raw string) error {
	if field.CanAddr() && field.Addr().Type().Implements(textUnmarshalerType) {
		return field.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(raw))
	}
	if field.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		field.SetInt(int64(d))
		return nil
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		field.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 0, field.Type().Bits())
		if err != nil {
			return err
		}
		field.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(raw, 0, field.Type().Bits())
		if err != nil {
			return err
		}
		field.SetUint(n)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(raw, field.Type().Bits())
		if err != nil {
			return err
		}
		field.SetFloat(x)
	case reflect.Slice:
		if field.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", field.Type())
		}
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		field.Set(reflect.ValueOf(items).Convert(field.Type()))
	default:
		return fmt.Errorf("unsupported type %s", field.Type())
	}
	return nil
}

// kindName is how an error names what a value should have been.
func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration (such as 30s or 720h)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice:
		return "comma-separated list"
	default:
		return "value"
	}
}
