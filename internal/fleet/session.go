package fleet

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// sessionFieldScript sets a field of a customer's session hash only while
// the session exists. The brand may have deleted it (a logout) since the
// request the field is written for; an HSET would make the hash again,
// with no expiry and only frontdoor's field in it: a session that never
// ends, which lookups would find. On a hash that exists, HSET keeps its
// expiry.
var sessionFieldScript = redis.NewScript(`if redis.call('EXISTS', KEYS[1]) == 1 then
	redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
	return 1
end
return 0`)

// setSessionField queues on p the write of a field of the session hash at
// key, if the session still exists when it runs.
func setSessionField(ctx context.Context, p redis.Pipeliner, key, field string, value any) {
	sessionFieldScript.Eval(ctx, p, []string{key}, field, value)
}

// SetSessionField writes a field of the session hash at key now, if the
// session still exists, and reports whether it did.
func SetSessionField(ctx context.Context, c redis.Scripter, key, field string, value any) (bool, error) {
	wrote, err := sessionFieldScript.Run(ctx, c, []string{key}, field, value).Bool()
	return wrote, err
}
