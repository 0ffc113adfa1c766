// A static Go program as a new user writes one (CGO_ENABLED=0): it looks up
// a user, a host name and the system CA pool itself, from the files in
// /etc, prints what it found and serves it over HTTP on port 80.
package main

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"strings"
)

func main() {
	var lines []string
	say := func(format string, a ...interface{}) {
		l := fmt.Sprintf(format, a...)
		fmt.Println(l)
		lines = append(lines, l)
	}
	if u, err := user.Lookup("nobody"); err != nil {
		say("lookups: user nobody: error: %v", err)
	} else {
		say("lookups: user nobody uid=%s gid=%s", u.Uid, u.Gid)
	}
	if addrs, err := net.LookupHost("localhost"); err != nil {
		say("lookups: host localhost: error: %v", err)
	} else {
		say("lookups: host localhost=%s", strings.Join(addrs, ","))
	}
	if pool, err := x509.SystemCertPool(); err != nil {
		say("lookups: ca: error: %v", err)
	} else {
		//lint:ignore SA1019 the count is all we need
		say("lookups: ca certificates=%d", len(pool.Subjects()))
	}
	if name, err := os.Hostname(); err == nil {
		addrs, err := net.LookupHost(name)
		say("lookups: hostname %s=%s err=%v", name, strings.Join(addrs, ","), err)
	}
	page := strings.Join(lines, "\n") + "\n"
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page)
	})
	say("lookups: serving on :80")
	if err := http.ListenAndServe(":80", nil); err != nil {
		fmt.Println("lookups: serve:", err)
		os.Exit(1)
	}
}
