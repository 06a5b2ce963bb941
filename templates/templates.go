// Package templates holds tempstream's web page and its static files,
// embedded in the binary so the page needs nothing from other hosts.
package templates

import (
	"embed"
	"io/fs"
)

//go:embed temperature.html static
var files embed.FS

// Page is the temperature page, served at /temperature.
func Page() []byte {
	b, err := files.ReadFile("temperature.html")
	if err != nil { // unreachable: the file is embedded at build time
		panic(err)
	}
	return b
}

// Static is the tree served under /static/: scripts and styles.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil { // unreachable: the directory is embedded at build time
		panic(err)
	}
	return sub
}
