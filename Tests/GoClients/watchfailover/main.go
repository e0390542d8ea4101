// watchfailover checks that watchers get every event exactly once, in order, while a watch process
// dies: STREAMS clients each watch a prefix, one writer puts PUTS keys, and after a third of them the
// process KILLPID (a watch fan-out process) is killed with SIGKILL. It exits 0 only if every watcher
// saw revisions first..first+PUTS-1 once each, in order.
//
// Usage: watchfailover ENDPOINT STREAMS PUTS KILLPID
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: watchfailover ENDPOINT STREAMS PUTS KILLPID")
		os.Exit(2)
	}
	endpoint := os.Args[1]
	streams, _ := strconv.Atoi(os.Args[2])
	puts, _ := strconv.Atoi(os.Args[3])
	victim, _ := strconv.Atoi(os.Args[4])

	writer, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	check(err)
	defer writer.Close()
	start, err := writer.Put(context.Background(), "failover/start", "")
	check(err)
	first := start.Header.Revision + 1

	var wait sync.WaitGroup
	failures := make(chan string, streams)
	ready := make(chan struct{}, streams)
	for index := 0; index < streams; index++ {
		client, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
		check(err)
		defer client.Close()
		wait.Add(1)
		go func(index int, client *clientv3.Client) {
			defer wait.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			channel := client.Watch(ctx, "failover/key/", clientv3.WithPrefix(), clientv3.WithRev(first), clientv3.WithCreatedNotify())
			next := first
			for response := range channel {
				if response.Created {
					ready <- struct{}{}
					continue
				}
				if err := response.Err(); err != nil {
					failures <- fmt.Sprintf("watcher %d: %v", index, err)
					return
				}
				for _, event := range response.Events {
					if event.Kv.ModRevision != next {
						failures <- fmt.Sprintf("watcher %d: got revision %d, want %d", index, event.Kv.ModRevision, next)
						return
					}
					next++
				}
				if next == first+int64(puts) {
					return
				}
			}
			failures <- fmt.Sprintf("watcher %d: stream ended at revision %d of %d", index, next, first+int64(puts)-1)
		}(index, client)
	}
	for index := 0; index < streams; index++ {
		<-ready
	}
	for index := 0; index < puts; index++ {
		if index == puts/3 && victim > 0 {
			check(syscall.Kill(victim, syscall.SIGKILL))
		}
		_, err := writer.Put(context.Background(), fmt.Sprintf("failover/key/%d", index), strconv.Itoa(index))
		check(err)
	}
	wait.Wait()
	close(failures)
	failed := 0
	for failure := range failures {
		fmt.Println(failure)
		failed++
	}
	fmt.Printf("%d watchers, %d puts, %d failed\n", streams, puts, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchfailover:", err)
		os.Exit(1)
	}
}
