// A cgo Go program (CGO_ENABLED=1, built with -tags netcgo):
// os/user looks the user up through glibc's getpwnam_r, net resolves
// through glibc's getaddrinfo, and the process drops to that user after
// binding port 80, then serves what it found over HTTP.
package main

/*
#include <gnu/libc-version.h>
*/
import "C"

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	var lines []string
	say := func(format string, a ...interface{}) {
		l := fmt.Sprintf(format, a...)
		fmt.Println(l)
		lines = append(lines, l)
	}
	say("cgo: glibc %s", C.GoString(C.gnu_get_libc_version()))
	u, err := user.Lookup("nobody")
	if err != nil {
		say("cgo: user nobody: error: %v", err)
		os.Exit(1)
	}
	say("cgo: user nobody uid=%s gid=%s", u.Uid, u.Gid)
	if addrs, err := net.LookupHost("localhost"); err != nil {
		say("cgo: host localhost: error: %v", err)
	} else {
		say("cgo: host localhost=%s", strings.Join(addrs, ","))
	}
	ln, err := net.Listen("tcp", ":80")
	if err != nil {
		say("cgo: listen: %v", err)
		os.Exit(1)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := syscall.Setgroups(nil); err != nil {
		say("cgo: setgroups: %v", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		say("cgo: setgid: %v", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		say("cgo: setuid: %v", err)
	}
	say("cgo: running as uid=%d gid=%d", os.Getuid(), os.Getgid())
	page := strings.Join(lines, "\n") + "\n"
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page)
	})
	say("cgo: serving on :80")
	if err := http.Serve(ln, nil); err != nil {
		fmt.Println("cgo: serve:", err)
		os.Exit(1)
	}
}
