// progressnotify watches a key with clientv3.WithProgressNotify for a while and prints what etcdctl's
// `watch --progress-notify` prints (Debian's etcdctl 3.4 has no such flag): one
// "progress notify: <header revision>" line per notification, and each event.
//
// Usage: progressnotify ENDPOINT KEY SECONDS
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: progressnotify ENDPOINT KEY SECONDS")
		os.Exit(2)
	}
	seconds, err := strconv.ParseFloat(os.Args[3], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Args[1]}, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds*float64(time.Second)))
	defer cancel()
	for response := range client.Watch(ctx, os.Args[2], clientv3.WithProgressNotify()) {
		if response.IsProgressNotify() {
			fmt.Printf("progress notify: %d\n", response.Header.Revision)
		}
		for _, event := range response.Events {
			fmt.Printf("%s %s %s\n", event.Type, event.Kv.Key, event.Kv.Value)
		}
	}
}
