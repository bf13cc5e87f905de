// Dockerfile instructions for commit and import (docker commit -c / --change).
// Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME,
// WORKDIR (and ONBUILD, STOPSIGNAL); so does this file, except ONBUILD,
// which only matters to a Dockerfile build. CMD, ENTRYPOINT and VOLUME
// take the JSON form ["a","b"] or the shell form; a shell-form CMD or
// ENTRYPOINT runs under /bin/sh -c, as in a Dockerfile. As in a build, a
// new ENTRYPOINT clears the CMD inherited from the parent image, unless
// an earlier CMD in the same list of changes set it. Variables ($VAR) in
// values are not expanded.

package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
)

// ApplyChanges applies Dockerfile instructions to cfg in order.
func ApplyChanges(changes []string, cfg *RunConfig) error {
	cmdSet := false
	for _, change := range changes {
		keyword, _, _ := strings.Cut(strings.TrimSpace(change), " ")
		keyword = strings.ToUpper(keyword)
		cmd := cfg.Cmd
		if err := ParseChange(change, cfg); err != nil {
			return err
		}
		switch keyword {
		case "CMD":
			cmdSet = true
		case "ENTRYPOINT":
			if cmdSet {
				cfg.Cmd = cmd
			}
		}
	}
	return nil
}

// ParseChange applies one Dockerfile instruction, such as `CMD ["sh"]`
// or `ENV A=1 B=2`, to cfg.
func ParseChange(instruction string, cfg *RunConfig) error {
	keyword, rest, _ := strings.Cut(strings.TrimSpace(instruction), " ")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return fmt.Errorf("change %q: %s needs an argument", instruction, strings.ToUpper(keyword))
	}
	var err error
	switch strings.ToUpper(keyword) {
	case "CMD":
		cfg.Cmd, err = commandForm(rest, true)
	case "ENTRYPOINT":
		cfg.Entrypoint, err = commandForm(rest, true)
		cfg.Cmd = nil
	case "ENV":
		err = changeEnv(rest, cfg)
	case "LABEL":
		err = changeLabel(rest, cfg)
	case "WORKDIR":
		cfg.WorkingDir = path.Join("/", cfg.WorkingDir, rest)
		if path.IsAbs(rest) {
			cfg.WorkingDir = path.Clean(rest)
		}
	case "USER":
		cfg.User = rest
	case "STOPSIGNAL":
		cfg.StopSignal = rest
	case "EXPOSE":
		err = changeExpose(rest, cfg)
	case "VOLUME":
		err = changeVolume(rest, cfg)
	default:
		return fmt.Errorf("change %q: unsupported instruction %s: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR", instruction, keyword)
	}
	if err != nil {
		return fmt.Errorf("change %q: %w", instruction, err)
	}
	return nil
}

// commandForm parses the JSON form ["a","b"], or takes the shell form
// (run under /bin/sh -c when shell is true, split into words otherwise).
func commandForm(rest string, shell bool) ([]string, error) {
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err == nil {
			return args, nil
		}
	}
	if shell {
		return []string{"/bin/sh", "-c", rest}, nil
	}
	return splitWords(rest)
}

// changeEnv handles ENV KEY=VALUE ... and the old form ENV KEY VALUE.
func changeEnv(rest string, cfg *RunConfig) error {
	pairs, err := keyValues(rest)
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
	}
	return nil
}

// setEnv replaces or appends KEY=VALUE in env, copying the slice.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k != key {
			out = append(out, e)
		}
	}
	return append(out, key+"="+value)
}

// changeLabel handles LABEL key=value ...
func changeLabel(rest string, cfg *RunConfig) error {
	pairs, err := keyValues(rest)
	if err != nil {
		return err
	}
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	for _, kv := range pairs {
		labels[kv[0]] = kv[1]
	}
	cfg.Labels = labels
	return nil
}

// keyValues splits `a=1 b="two words"`, or the old form `KEY the value`.
func keyValues(rest string) ([][2]string, error) {
	words, err := splitWords(rest)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(words[0], "=") {
		value := strings.TrimSpace(strings.TrimPrefix(rest, words[0]))
		return [][2]string{{words[0], value}}, nil
	}
	var pairs [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		pairs = append(pairs, [2]string{k, v})
	}
	return pairs, nil
}

// changeExpose handles EXPOSE 80 53/udp ...
func changeExpose(rest string, cfg *RunConfig) error {
	ports := map[string]struct{}{}
	for p := range cfg.ExposedPorts {
		ports[p] = struct{}{}
	}
	for _, p := range strings.Fields(rest) {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		if num == "" || strings.Trim(num, "0123456789-") != "" || (proto != "tcp" && proto != "udp" && proto != "sctp") {
			return fmt.Errorf("invalid port %q: use PORT[/tcp|/udp|/sctp]", p)
		}
		ports[num+"/"+strings.ToLower(proto)] = struct{}{}
	}
	cfg.ExposedPorts = ports
	return nil
}

// changeVolume handles VOLUME ["/a","/b"] and VOLUME /a /b.
func changeVolume(rest string, cfg *RunConfig) error {
	paths, err := commandForm(rest, false)
	if err != nil {
		return err
	}
	volumes := map[string]struct{}{}
	for v := range cfg.Volumes {
		volumes[v] = struct{}{}
	}
	for _, p := range paths {
		if !path.IsAbs(p) {
			return fmt.Errorf("volume %q is not an absolute path", p)
		}
		volumes[p] = struct{}{}
	}
	cfg.Volumes = volumes
	return nil
}

// splitWords splits s at spaces outside quotes, removing the quotes and
// honouring backslash escapes, as a Dockerfile does for ENV and LABEL.
func splitWords(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord, quote := false, rune(0)
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		switch {
		case c == '\\' && quote != '\'' && i+1 < len(runes):
			i++
			word.WriteRune(runes[i])
			inWord = true
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, inWord = c, true
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, word.String())
	}
	if len(words) == 0 {
		return nil, errors.New("no words")
	}
	return words, nil
}
