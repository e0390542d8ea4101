// authrenew checks that a clientv3 client keeps working across an auth change: with JWT tokens the
// server refuses the client's token after the change ("revision of auth store is old"), and clientv3
// is expected to authenticate again by itself and retry. Prints one line per step; exits 1 on failure.
//
// Usage: authrenew ENDPOINT USER PASSWORD ROOT_PASSWORD ROLE
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func connect(endpoint, user, password string) *clientv3.Client {
	client, err := clientv3.New(clientv3.Config{
		Endpoints: []string{endpoint}, Username: user, Password: password, DialTimeout: 5 * time.Second,
	})
	if err != nil {
		fmt.Println("connect", user, "failed:", err)
		os.Exit(1)
	}
	return client
}

func step(name string, err error) {
	if err != nil {
		fmt.Println(name, "failed:", err)
		os.Exit(1)
	}
	fmt.Println(name, "ok")
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: authrenew ENDPOINT USER PASSWORD ROOT_PASSWORD ROLE")
		os.Exit(2)
	}
	endpoint, role := os.Args[1], os.Args[5]
	user := connect(endpoint, os.Args[2], os.Args[3])
	defer user.Close()
	root := connect(endpoint, "root", os.Args[4])
	defer root.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err := user.Put(ctx, "k1", "v1")
	step("put before the auth change", err)
	_, err = root.RoleGrantPermission(ctx, role, "other", "", clientv3.PermissionType(clientv3.PermRead))
	step("auth change", err)
	response, err := user.Get(ctx, "k1")
	if err == nil && (len(response.Kvs) != 1 || string(response.Kvs[0].Value) != "v1") {
		err = fmt.Errorf("unexpected response %v", response.Kvs)
	}
	step("get after the auth change", err)
}
