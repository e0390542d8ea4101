// loadcheck drives an etcd-compatible server with the Go clientv3 under sustained concurrent load
// and fails if any request fails. grpc-go pings the server about once per round trip while it
// estimates bandwidth, so this also checks that the server tolerates a real Go client's pings.
//
// Usage: loadcheck ENDPOINT WORKERS OPS_PER_WORKER
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: loadcheck ENDPOINT WORKERS OPS_PER_WORKER")
		os.Exit(2)
	}
	workers, _ := strconv.Atoi(os.Args[2])
	ops, _ := strconv.Atoi(os.Args[3])
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Args[1]}, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer client.Close()

	var failures int64
	var firstError atomic.Value
	var wait sync.WaitGroup
	started := time.Now()
	for worker := 0; worker < workers; worker++ {
		wait.Add(1)
		go func(worker int) {
			defer wait.Done()
			for op := 0; op < ops; op++ {
				key := fmt.Sprintf("load/%d/%d", worker, op%50)
				value := fmt.Sprintf("value-%d", op)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := client.Put(ctx, key, value)
				if err == nil {
					var response *clientv3.GetResponse
					response, err = client.Get(ctx, key)
					if err == nil && (len(response.Kvs) != 1 || string(response.Kvs[0].Value) != value) {
						err = fmt.Errorf("get %s: read %v, want %s", key, response.Kvs, value)
					}
				}
				cancel()
				if err != nil {
					atomic.AddInt64(&failures, 1)
					firstError.CompareAndSwap(nil, err.Error())
				}
			}
		}(worker)
	}
	wait.Wait()
	elapsed := time.Since(started)
	fmt.Printf("%d requests in %.2fs, %d failed\n", 2*workers*ops, elapsed.Seconds(), failures)
	if failures > 0 {
		fmt.Println("first error:", firstError.Load())
		os.Exit(1)
	}
}
