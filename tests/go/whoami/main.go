// A static Go program for the aarch64 --user test (CGO_ENABLED=0
// GOARCH=arm64): it looks its own uid up in /etc/passwd through os/user,
// as a Go app does, prints what it found, then stays up until init stops
// it.
package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"
)

func main() {
	uid, gid := os.Getuid(), os.Getgid()
	name := "(not found)"
	if u, err := user.LookupId(strconv.Itoa(uid)); err != nil {
		name = "error: " + err.Error()
	} else {
		name = u.Username
	}
	fmt.Printf("whoami: uid=%d gid=%d name=%s\n", uid, gid, name)
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err != nil {
		fmt.Printf("whoami: group error: %v\n", err)
	} else {
		fmt.Printf("whoami: group %s\n", g.Name)
	}
	for {
		time.Sleep(time.Hour)
	}
}
