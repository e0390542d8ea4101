// watchfailover checks that watchers get every event exactly once, in order, while a watch process
// dies: STREAMS clients each watch a prefix, one writer puts PUTS keys, and after a third of them the
// process KILLPID (a watch fan-out process) is killed with SIGKILL. It exits 0 only if every watcher
// saw exactly the revisions the writer's puts were answered with, once each, in order. (Other writes
// may commit revisions in between, a lease expiring for one; the watchers rightly do not see those.)
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
	written := make([]int64, puts)

	var wait sync.WaitGroup
	// Done once every put was answered: watchers compare what they saw with the puts' revisions then.
	var writes sync.WaitGroup
	writes.Add(1)
	failures := make(chan string, streams)
	ready := make(chan struct{}, streams)
	for index := 0; index < streams; index++ {
		client, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
		check(err)
		defer client.Close()
		wait.Add(1)
		go func(index int, client *clientv3.Client) {
			defer wait.Done()
			// The test that runs this client bounds its time; a watcher gives up only far beyond that.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			channel := client.Watch(ctx, "failover/key/", clientv3.WithPrefix(), clientv3.WithRev(first), clientv3.WithCreatedNotify())
			var seen []int64
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
					seen = append(seen, event.Kv.ModRevision)
				}
				if len(seen) >= puts {
					break
				}
			}
			if len(seen) < puts {
				failures <- fmt.Sprintf("watcher %d: stream ended after %d of %d events", index, len(seen), puts)
				return
			}
			// The writer has finished when every put was seen: its revisions are all known now.
			writes.Wait()
			for position, revision := range seen {
				if position >= puts || revision != written[position] {
					want := "none"
					if position < puts {
						want = strconv.FormatInt(written[position], 10)
					}
					failures <- fmt.Sprintf("watcher %d: event %d at revision %d, want %s", index, position, revision, want)
					return
				}
			}
		}(index, client)
	}
	for index := 0; index < streams; index++ {
		<-ready
	}
	for index := 0; index < puts; index++ {
		if index == puts/3 && victim > 0 {
			check(syscall.Kill(victim, syscall.SIGKILL))
		}
		response, err := writer.Put(context.Background(), fmt.Sprintf("failover/key/%d", index), strconv.Itoa(index))
		check(err)
		written[index] = response.Header.Revision
	}
	writes.Done()
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
