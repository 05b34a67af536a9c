package banner

import (
	"slices"
	"strings"
)

// AllowStyle returns the Content-Security-Policy header value policy with
// hashSources (from [Template.StyleHashes]) added where they allow the
// banner's <style> element and nothing else.
//
// A <style> element is governed by style-src-elem, else style-src, else
// default-src, so the hashes go into the first of these that the policy has.
// When that is default-src, a style-src directive is added with the sources
// of default-src plus the hashes, leaving other kinds of content as strict as
// they were. A policy without any of them, or whose directive already allows
// all inline styles ('unsafe-inline' with no nonce or hash, which a hash
// would switch off), is returned unchanged. A 'none' source is replaced by the
// hashes. Several policies joined with commas (from several headers) are
// patched one by one. Everything else is kept byte for byte.
func AllowStyle(policy string, hashSources []string) string {
	if len(hashSources) == 0 {
		return policy
	}
	policies := strings.Split(policy, ",")
	for k, p := range policies {
		policies[k] = allowStyleIn(p, hashSources)
	}
	return strings.Join(policies, ",")
}

// allowStyleIn patches a single policy for AllowStyle.
func allowStyleIn(policy string, hashSources []string) string {
	directives := strings.Split(policy, ";")
	// The first directive with a given name is the one that counts; browsers
	// ignore repeats.
	chosen := -1
	chosenRank := 0
	for k, d := range directives {
		rank := 0
		switch strings.ToLower(directiveName(d)) {
		case "style-src-elem":
			rank = 3
		case "style-src":
			rank = 2
		case "default-src":
			rank = 1
		}
		if rank > chosenRank {
			chosen, chosenRank = k, rank
		}
	}
	if chosen < 0 {
		return policy
	}

	d := directives[chosen]
	tokens := sourceTokens(d)
	if allowsAllInline(tokens) {
		return policy
	}
	var missing []string
	for _, h := range hashSources {
		if !slices.Contains(tokens, h) && !slices.Contains(missing, h) {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return policy
	}

	if chosenRank == 1 {
		// Give <style> elements a directive of their own, as strict as
		// default-src but for the hashes.
		sources := slices.DeleteFunc(slices.Clone(tokens), isNone)
		sources = append(sources, missing...)
		added := "style-src " + strings.Join(sources, " ")
		trimmed := strings.TrimRight(policy, asciiSpace)
		trailing := policy[len(trimmed):]
		if strings.HasSuffix(trimmed, ";") {
			return trimmed + " " + added + trailing
		}
		return trimmed + "; " + added + trailing
	}
	directives[chosen] = addSources(d, missing)
	return strings.Join(directives, ";")
}

// asciiSpace is the whitespace that separates CSP tokens.
const asciiSpace = " \t\n\f\r"

// directiveName returns the name of the directive d.
func directiveName(d string) string {
	fields := strings.FieldsFunc(d, isSpaceRune)
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// sourceTokens returns the source expressions of the directive d.
func sourceTokens(d string) []string {
	fields := strings.FieldsFunc(d, isSpaceRune)
	if len(fields) == 0 {
		return nil
	}
	return fields[1:]
}

// addSources returns the directive d with sources added: in place of its
// 'none' source if it has one (a 'none' among other sources would be
// meaningless), else after its last token.
func addSources(d string, sources []string) string {
	added := strings.Join(sources, " ")
	// Tokens are found by position so that the rest of d stays as it was.
	first := true
	for start := 0; start < len(d); {
		if isHTMLSpace(d[start]) {
			start++
			continue
		}
		end := start
		for end < len(d) && !isHTMLSpace(d[end]) {
			end++
		}
		if !first && isNone(d[start:end]) {
			return d[:start] + added + d[end:]
		}
		first = false
		start = end
	}
	trimmed := strings.TrimRight(d, asciiSpace)
	return trimmed + " " + added + d[len(trimmed):]
}

// allowsAllInline reports whether sources allow every inline style: they
// have 'unsafe-inline' and no nonce or hash, which would make browsers
// ignore 'unsafe-inline'.
func allowsAllInline(sources []string) bool {
	unsafeInline := false
	for _, s := range sources {
		lower := strings.ToLower(s)
		switch {
		case lower == "'unsafe-inline'":
			unsafeInline = true
		case strings.HasPrefix(lower, "'nonce-"),
			strings.HasPrefix(lower, "'sha256-"),
			strings.HasPrefix(lower, "'sha384-"),
			strings.HasPrefix(lower, "'sha512-"):
			return false
		}
	}
	return unsafeInline
}

// isNone reports whether the source expression s is 'none'.
func isNone(s string) bool {
	return strings.EqualFold(s, "'none'")
}

// isSpaceRune reports whether r is ASCII whitespace.
func isSpaceRune(r rune) bool {
	return r < 0x80 && isHTMLSpace(byte(r))
}

// ScriptingEnabled reports whether a document served with these
// Content-Security-Policy field values runs with scripting enabled: it does
// not when a policy has a sandbox directive without allow-scripts. The
// HTML parser then reads <noscript> as markup (see
// [Injector.SetScripting]). Each value may hold several policies,
// separated by commas.
func ScriptingEnabled(policies []string) bool {
	for _, value := range policies {
		for _, policy := range strings.Split(value, ",") {
			for _, d := range strings.Split(policy, ";") {
				fields := strings.FieldsFunc(d, isSpaceRune)
				if len(fields) == 0 || !strings.EqualFold(fields[0], "sandbox") {
					continue
				}
				scripts := false
				for _, flag := range fields[1:] {
					scripts = scripts || strings.EqualFold(flag, "allow-scripts")
				}
				if !scripts {
					return false
				}
			}
		}
	}
	return true
}
