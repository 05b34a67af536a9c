package caddymodule

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRequestPathGoesForward follows a request through the package as a
// reader does, call by call from Handler.ServeHTTP: each function the first
// time it is called, in source order, its deferred calls when it returns.
// Where the handler hands the request to Caddy's reverse proxy, the proxy
// calls back into the package: the transport's RoundTrip, then the writers
// it writes the answer through, outermost first. The files the reader is
// sent to must go forward through the stages: a file may be left and come
// back to once (a stage that hands over and takes the answer back), never
// more. Helpers that every stage uses belong in a package of their own.
func TestRequestPathGoesForward(t *testing.T) {
	path := followRequest(t)
	visits := map[string]int{}
	for _, f := range path {
		visits[f]++
	}
	t.Logf("request path (%d steps): %s", len(path), strings.Join(path, " → "))
	for _, f := range path {
		if visits[f] > 2 {
			t.Errorf("the request path enters %s %d times; a stage's file is left and come back to once at most", f, visits[f])
			visits[f] = 0 // say it once
		}
	}
}

// proxyWriters are the response writers watchAttempt hands the reverse
// proxy, outermost first: the proxy's calls go through them in this order.
var proxyWriters = []string{"bodyWatch", "attemptWriter", "headHold"}

// followRequest returns the files a reader following a request visits, in
// order, with consecutive visits to one file merged.
func followRequest(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := goparser.ParseFile(fset, name, src, goparser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// Only this package's own declarations matter: imports are stubs, and
	// what cannot be resolved without them is left out.
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}, Types: map[ast.Expr]types.TypeAndValue{}}
	conf := types.Config{Importer: stubImporter{}, Error: func(error) {}}
	pkg, _ := conf.Check("caddymodule", fset, files, info)

	decls := map[*types.Func]*ast.FuncDecl{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				if fn, ok := info.Defs[fd.Name].(*types.Func); ok {
					decls[fn] = fd
				}
			}
		}
	}
	method := func(typ, name string) *types.Func {
		obj := pkg.Scope().Lookup(typ)
		if obj == nil {
			t.Fatalf("type %s is not in the package", typ)
		}
		m, _, _ := types.LookupFieldOrMethod(types.NewPointer(obj.Type()), true, pkg, name)
		fn, _ := m.(*types.Func)
		return fn
	}

	var path []string
	seen := map[*types.Func]bool{}
	readWriters := map[*types.Named]bool{}
	proxied := false
	var follow func(fn *types.Func)
	var readUnit func(*types.Named)
	var walk func(body ast.Node)
	follow = func(fn *types.Func) {
		if fn == nil {
			t.Fatal("a method the request path is wired through is gone")
		}
		fn = fn.Origin()
		fd, ok := decls[fn]
		if !ok || seen[fn] {
			return
		}
		seen[fn] = true
		file := fset.Position(fd.Pos()).Filename
		if len(path) == 0 || path[len(path)-1] != file {
			path = append(path, file)
		}
		// A writer is read as a unit, from the first of its methods the
		// path meets: the proxy and the stages in front of it call its
		// methods phase by phase (head, body, flush, finish), each phase
		// through every writer.
		var unit *types.Named
		if recv := fn.Signature().Recv(); recv != nil {
			if named := receiverNamed(recv.Type()); named != nil && isWriter(named) && !readWriters[named] {
				readWriters[named], unit = true, named
			}
		}
		walk(fd.Body)
		if unit != nil {
			readUnit(unit)
		}
	}
	// readUnit reads a writer's methods: those in the file that declares
	// it, top to bottom, then those elsewhere.
	readUnit = func(named *types.Named) {
		readWriters[named] = true
		home := fset.Position(named.Obj().Pos()).Filename
		var methods []*types.Func
		for m := range named.Methods() {
			methods = append(methods, m)
		}
		slices.SortStableFunc(methods, func(a, b *types.Func) int {
			pa, pb := fset.Position(a.Pos()), fset.Position(b.Pos())
			if (pa.Filename == home) != (pb.Filename == home) {
				if pa.Filename == home {
					return -1
				}
				return 1
			}
			if c := strings.Compare(pa.Filename, pb.Filename); c != 0 {
				return c
			}
			return pa.Offset - pb.Offset
		})
		for _, m := range methods {
			follow(m)
		}
	}
	callee := func(call *ast.CallExpr) *types.Func {
		var id *ast.Ident
		switch fun := ast.Unparen(call.Fun).(type) {
		case *ast.Ident:
			id = fun
		case *ast.SelectorExpr:
			id = fun.Sel
		case *ast.IndexExpr: // an instantiated generic function
			if x, ok := fun.X.(*ast.Ident); ok {
				id = x
			}
		}
		if id == nil {
			return nil
		}
		fn, _ := info.Uses[id].(*types.Func)
		return fn
	}
	// writerArg names the package's writer a ServeHTTP call through an
	// interface passes first: the proxy or the watch in front of it.
	writerArg := func(call *ast.CallExpr) string {
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "ServeHTTP" || len(call.Args) == 0 || callee(call) != nil {
			return ""
		}
		ptr, ok := info.Types[call.Args[0]].Type.(*types.Pointer)
		if !ok {
			return ""
		}
		named, ok := ptr.Elem().(*types.Named)
		if !ok || named.Obj().Pkg() != pkg {
			return ""
		}
		return named.Obj().Name()
	}
	walk = func(body ast.Node) {
		var deferred []*ast.CallExpr
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				return false // not on the request's path
			case *ast.DeferStmt:
				deferred = append(deferred, n.Call)
				return false
			case *ast.CallExpr:
				switch writerArg(n) {
				case "attemptWriter": // aw.serve(bw, ...): the watch runs the proxy
					follow(method("bodyWatch", "ServeHTTP"))
				case proxyWriters[0]: // the reverse proxy itself
					proxied = true
					follow(method("upstreamTransport", "RoundTrip"))
					for _, typ := range proxyWriters {
						named, _ := pkg.Scope().Lookup(typ).Type().(*types.Named)
						if named == nil {
							t.Fatalf("writer %s is not in the package", typ)
						}
						readUnit(named)
					}
				}
				// Arguments are evaluated before the call.
				for _, arg := range n.Args {
					ast.Inspect(arg, func(m ast.Node) bool {
						if c, ok := m.(*ast.CallExpr); ok {
							walkCall(c, follow, callee)
						}
						return true
					})
				}
				if fn := callee(n); fn != nil {
					follow(fn)
				}
				return false
			}
			return true
		})
		for _, call := range slices.Backward(deferred) {
			ast.Inspect(call, func(m ast.Node) bool {
				if c, ok := m.(*ast.CallExpr); ok {
					walkCall(c, follow, callee)
				}
				return true
			})
		}
	}
	serve := method("Handler", "ServeHTTP")
	if serve == nil {
		t.Fatal("Handler.ServeHTTP is not in the package")
	}
	follow(serve)
	if !proxied {
		t.Fatal("the path never reaches the reverse proxy")
	}
	return path
}

// receiverNamed is the named type of a method's receiver.
func receiverNamed(t types.Type) *types.Named {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, _ := t.(*types.Named)
	return n
}

// isWriter reports whether the package's type has a Write method.
func isWriter(n *types.Named) bool {
	for m := range n.Methods() {
		if m.Name() == "Write" {
			return true
		}
	}
	return false
}

// walkCall follows a call met inside an argument or a deferred call.
func walkCall(c *ast.CallExpr, follow func(*types.Func), callee func(*ast.CallExpr) *types.Func) {
	if fn := callee(c); fn != nil {
		follow(fn)
	}
}

// stubImporter gives every import as an empty package, so the package
// type-checks in milliseconds with its own declarations resolved.
type stubImporter struct{}

func (stubImporter) Import(path string) (*types.Package, error) {
	p := types.NewPackage(path, filepath.Base(path))
	p.MarkComplete()
	return p, nil
}
