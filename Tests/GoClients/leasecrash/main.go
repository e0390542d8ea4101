// leasecrash checks that leases kept alive survive the crash of a service: it grants LEASES leases
// (TTL 6 s), attaches a key to each and keeps them all alive; it also grants one lease that it does
// not keep alive and waits for it to expire. Then it kills KILLPID with SIGKILL (the lease service or
// the kv store; the launcher restarts it), keeps going for 15 s, and checks that every kept lease and
// its key are still there while the expired lease and its key never came back. Exits 0 only then.
//
// Usage: leasecrash ENDPOINT LEASES KILLPID
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: leasecrash ENDPOINT LEASES KILLPID")
		os.Exit(2)
	}
	count, _ := strconv.Atoi(os.Args[2])
	victim, _ := strconv.Atoi(os.Args[3])
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Args[1]}, DialTimeout: 5 * time.Second})
	check(err)
	defer client.Close()
	ctx := context.Background()

	unkept, err := client.Grant(ctx, 2)
	check(err)
	_, err = client.Put(ctx, "lc/unkept", "v", clientv3.WithLease(unkept.ID))
	check(err)

	leases := make([]clientv3.LeaseID, count)
	for index := range leases {
		granted, err := client.Grant(ctx, 6)
		check(err)
		leases[index] = granted.ID
		_, err = client.Put(ctx, fmt.Sprintf("lc/kept/%d", index), "v", clientv3.WithLease(granted.ID))
		check(err)
		responses, err := client.KeepAlive(ctx, granted.ID)
		check(err)
		go func() {
			for range responses {
			}
		}()
	}

	// The unkept lease expires (TTL 2 s, checked every 500 ms).
	deadline := time.Now().Add(10 * time.Second)
	for present(client, "lc/unkept") {
		if time.Now().After(deadline) {
			fail("the lease that was not kept alive did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}

	check(syscall.Kill(victim, syscall.SIGKILL))
	time.Sleep(15 * time.Second)

	lost := 0
	for index, id := range leases {
		alive, err := client.TimeToLive(ctx, id)
		if err != nil || alive.TTL <= 0 || !present(client, fmt.Sprintf("lc/kept/%d", index)) {
			lost++
		}
	}
	if lost > 0 {
		fail(fmt.Sprintf("%d of %d kept leases (or their keys) were lost", lost, count))
	}
	if present(client, "lc/unkept") {
		fail("the key of the expired lease came back")
	}
	if gone, err := client.TimeToLive(ctx, unkept.ID); err != nil || gone.TTL != -1 {
		fail(fmt.Sprintf("the expired lease came back: %v %v", gone, err))
	}
	fmt.Printf("%d leases kept alive through the crash, the expired one stayed gone\n", count)
}

func present(client *clientv3.Client, key string) bool {
	for attempt := 0; attempt < 50; attempt++ {
		response, err := client.Get(context.Background(), key)
		if err == nil {
			return len(response.Kvs) == 1
		}
		time.Sleep(200 * time.Millisecond)
	}
	fail("the store did not answer: " + key)
	return false
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(message string) {
	fmt.Println("FAIL:", message)
	os.Exit(1)
}
