// soakload is the client of scripts/soak.sh: for SECONDS it runs a mixed load against ENDPOINT with
// auth on (puts, compare-and-swap txns, ranges, watches from old revisions, leases kept alive) while
// the script kills services and stalls the disk, then checks what a client may rely on:
//
//   - no acknowledged write is lost: every key holds its last acknowledged value or a later attempt's;
//     the txn counter is at least its last acknowledged value;
//   - every watch stream delivers each revision once, in order, with no gap (every write of the soak is
//     under soak/, so every revision has an event there), or ends with a compaction cancel;
//   - every kept-alive lease and its key are alive.
//
// Failed requests during a kill are expected and only counted. Prints its figures as `soak: NAME VALUE`
// lines and exits 1 on any violation.
//
// Usage: soakload ENDPOINT SECONDS
package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

const (
	writers       = 4
	keysPerWriter = 250
	leases        = 20
	leaseTTL      = 30
	password      = "soak-root-pw"
)

var (
	violations  []string
	violationMu sync.Mutex
	counts      sync.Map // name -> *int64
)

func count(name string, delta int64) {
	value, _ := counts.LoadOrStore(name, new(int64))
	atomic.AddInt64(value.(*int64), delta)
}

func violate(format string, arguments ...interface{}) {
	violationMu.Lock()
	defer violationMu.Unlock()
	message := fmt.Sprintf(format, arguments...)
	if len(violations) < 50 {
		fmt.Fprintln(os.Stderr, "soak: VIOLATION", message)
	}
	violations = append(violations, message)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: soakload ENDPOINT SECONDS")
		os.Exit(2)
	}
	endpoint := os.Args[1]
	seconds, _ := strconv.Atoi(os.Args[2])
	enableAuth(endpoint)
	client, err := clientv3.New(clientv3.Config{
		Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Username: "root", Password: password,
	})
	must(err)
	defer client.Close()

	leaseIDs := grantLeases(client)
	ctx, stop := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer stop()
	var load sync.WaitGroup
	attempted := make([][]int64, writers)
	acknowledged := make([][]int64, writers)
	for writer := 0; writer < writers; writer++ {
		attempted[writer] = make([]int64, keysPerWriter)
		acknowledged[writer] = make([]int64, keysPerWriter)
		load.Add(1)
		go func(writer int) {
			defer load.Done()
			put(ctx, client, writer, attempted[writer], acknowledged[writer])
		}(writer)
	}
	var counterAttempted, counterAcknowledged int64
	load.Add(1)
	go func() {
		defer load.Done()
		swap(ctx, client, &counterAttempted, &counterAcknowledged)
	}()
	load.Add(1)
	go func() {
		defer load.Done()
		read(ctx, client)
	}()
	load.Add(1)
	go func() {
		defer load.Done()
		watchFromOldRevisions(ctx, client)
	}()
	load.Wait()

	verify(client, attempted, acknowledged, counterAttempted, counterAcknowledged, leaseIDs)
	counts.Range(func(name, value interface{}) bool {
		fmt.Printf("soak: %s %d\n", name, atomic.LoadInt64(value.(*int64)))
		return true
	})
	fmt.Printf("soak: violations %d\n", len(violations))
	if len(violations) > 0 {
		os.Exit(1)
	}
}

// enableAuth makes root (with the root role) and turns auth on, as an operator would.
func enableAuth(endpoint string) {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	must(err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = client.RoleAdd(ctx, "root")
	must(err)
	_, err = client.UserAdd(ctx, "root", password)
	must(err)
	_, err = client.UserGrantRole(ctx, "root", "root")
	must(err)
	_, err = client.AuthEnable(ctx)
	must(err)
}

// grantLeases grants the leases, attaches a key to each and keeps them alive until the process ends.
func grantLeases(client *clientv3.Client) []clientv3.LeaseID {
	ids := make([]clientv3.LeaseID, leases)
	for index := range ids {
		granted, err := client.Grant(context.Background(), leaseTTL)
		must(err)
		ids[index] = granted.ID
		_, err = client.Put(context.Background(), fmt.Sprintf("soak/lease/%d", index), "kept", clientv3.WithLease(granted.ID))
		must(err)
		responses, err := client.KeepAlive(context.Background(), granted.ID)
		must(err)
		go func() {
			for range responses {
				count("lease_keepalives", 1)
			}
		}()
	}
	return ids
}

// put writes key k of writer w with increasing sequence numbers, one request at a time, recording the
// highest attempted and the highest acknowledged sequence of each key.
func put(ctx context.Context, client *clientv3.Client, writer int, attempted, acknowledged []int64) {
	for sequence := int64(1); ctx.Err() == nil; sequence++ {
		key := int(sequence % keysPerWriter)
		attempted[key] = sequence
		call, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := client.Put(call, fmt.Sprintf("soak/kv/%d/%d", writer, key), strconv.FormatInt(sequence, 10))
		cancel()
		if err != nil {
			count("put_failed", 1)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		acknowledged[key] = sequence
		count("put_acknowledged", 1)
	}
}

// swap increments soak/counter with compare-and-swap txns.
func swap(ctx context.Context, client *clientv3.Client, attempted, acknowledged *int64) {
	for ctx.Err() == nil {
		call, cancel := context.WithTimeout(ctx, 5*time.Second)
		current := int64(0)
		got, err := client.Get(call, "soak/counter")
		if err == nil && len(got.Kvs) == 1 {
			current, _ = strconv.ParseInt(string(got.Kvs[0].Value), 10, 64)
		}
		if err != nil {
			cancel()
			count("txn_failed", 1)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		next := current + 1
		if next > *attempted {
			*attempted = next
		}
		var compare clientv3.Cmp
		if current == 0 {
			compare = clientv3.Compare(clientv3.Version("soak/counter"), "=", 0)
		} else {
			compare = clientv3.Compare(clientv3.Value("soak/counter"), "=", strconv.FormatInt(current, 10))
		}
		response, err := client.Txn(call).If(compare).Then(clientv3.OpPut("soak/counter", strconv.FormatInt(next, 10))).Commit()
		cancel()
		switch {
		case err != nil:
			count("txn_failed", 1)
			time.Sleep(50 * time.Millisecond)
		case response.Succeeded:
			*acknowledged = next
			count("txn_acknowledged", 1)
		default:
			count("txn_compare_failed", 1)
		}
	}
}

// read ranges over a random writer's keys.
func read(ctx context.Context, client *clientv3.Client) {
	for ctx.Err() == nil {
		call, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := client.Get(call, fmt.Sprintf("soak/kv/%d/", rand.Intn(writers)), clientv3.WithPrefix())
		cancel()
		if err != nil {
			count("range_failed", 1)
			time.Sleep(50 * time.Millisecond)
		} else {
			count("range_ok", 1)
		}
	}
}

// watchFromOldRevisions keeps two watch streams open at a time, each for 20 s from a revision up to
// 2,000 behind the head, and checks each stream's events.
func watchFromOldRevisions(ctx context.Context, client *clientv3.Client) {
	var streams sync.WaitGroup
	defer streams.Wait()
	slots := make(chan struct{}, 2)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		call, cancel := context.WithTimeout(ctx, 5*time.Second)
		status, err := client.Get(call, "soak/counter")
		cancel()
		if err != nil {
			<-slots
			count("watch_start_failed", 1)
			time.Sleep(time.Second)
			continue
		}
		start := status.Header.Revision - rand.Int63n(2000)
		if start < 2 {
			start = 2
		}
		streams.Add(1)
		go func(start int64) {
			defer streams.Done()
			defer func() { <-slots }()
			checkStream(ctx, client, start)
		}(start)
		time.Sleep(2 * time.Second)
	}
}

func checkStream(ctx context.Context, client *clientv3.Client, start int64) {
	streamContext, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), 20*time.Second)
	defer cancel()
	count("watch_streams", 1)
	expected := start
	last := int64(0)
	began := time.Now()
	// What came before the events, for the report of a violation: responses without events.
	history := ""
	responses := client.Watch(streamContext, "soak/", clientv3.WithPrefix(), clientv3.WithRev(start), clientv3.WithCreatedNotify())
	for {
		var response clientv3.WatchResponse
		select {
		case received, open := <-responses:
			if !open {
				return
			}
			response = received
		case <-streamContext.Done():
			// clientv3 does not always close the channel of a watch that was never created.
			if history == "" {
				count("watch_never_created", 1)
			}
			return
		}
		if len(response.Events) == 0 {
			history += fmt.Sprintf(" [%.1fs created=%v progress=%v header=%d]", time.Since(began).Seconds(), response.Created, response.IsProgressNotify(), response.Header.Revision)
		}
		if response.CompactRevision != 0 {
			count("watch_compacted", 1)
			return
		}
		if err := response.Err(); err != nil {
			count("watch_stream_errors", 1)
			return
		}
		for _, event := range response.Events {
			revision := event.Kv.ModRevision
			switch {
			case revision == last:
			case revision == expected:
				last = revision
				expected = revision + 1
			case revision < expected:
				violate("watch from %d: revision %d again after %d (duplicate or out of order), stream opened %s, event after %.1fs;%s", start, revision, last, began.UTC().Format("15:04:05.0"), time.Since(began).Seconds(), history)
				return
			default:
				violate("watch from %d: revision %d after %d (gap), stream opened %s, event after %.1fs;%s", start, revision, last, began.UTC().Format("15:04:05.0"), time.Since(began).Seconds(), history)
				return
			}
			count("watch_events", 1)
		}
	}
}

// verify checks the outcome, retrying while the last kill's service restarts.
func verify(client *clientv3.Client, attempted, acknowledged [][]int64, counterAttempted, counterAcknowledged int64, leaseIDs []clientv3.LeaseID) {
	retry := func(what string, call func(ctx context.Context) error) {
		deadline := time.Now().Add(90 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := call(ctx)
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				violate("%s: %v", what, err)
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for writer := range attempted {
		var got *clientv3.GetResponse
		retry("reading the keys", func(ctx context.Context) (err error) {
			got, err = client.Get(ctx, fmt.Sprintf("soak/kv/%d/", writer), clientv3.WithPrefix())
			return
		})
		if got == nil {
			continue
		}
		values := map[string]int64{}
		for _, kv := range got.Kvs {
			values[string(kv.Key)], _ = strconv.ParseInt(string(kv.Value), 10, 64)
		}
		for key := range attempted[writer] {
			name := fmt.Sprintf("soak/kv/%d/%d", writer, key)
			value, present := values[name]
			if acknowledged[writer][key] == 0 {
				continue
			}
			count("keys_checked", 1)
			if !present || value < acknowledged[writer][key] || value > attempted[writer][key] {
				violate("%s holds %d (present %v); acknowledged %d, attempted up to %d", name, value, present, acknowledged[writer][key], attempted[writer][key])
			}
		}
	}
	retry("reading the counter", func(ctx context.Context) error {
		got, err := client.Get(ctx, "soak/counter")
		if err != nil {
			return err
		}
		value := int64(0)
		if len(got.Kvs) == 1 {
			value, _ = strconv.ParseInt(string(got.Kvs[0].Value), 10, 64)
		}
		if value < counterAcknowledged || value > counterAttempted {
			violate("soak/counter holds %d; acknowledged %d, attempted up to %d", value, counterAcknowledged, counterAttempted)
		}
		return nil
	})
	for index, id := range leaseIDs {
		retry("reading a lease", func(ctx context.Context) error {
			alive, err := client.TimeToLive(ctx, id)
			if err != nil {
				return err
			}
			key, err := client.Get(ctx, fmt.Sprintf("soak/lease/%d", index))
			if err != nil {
				return err
			}
			if alive.TTL <= 0 || len(key.Kvs) != 1 {
				violate("lease %x kept alive is gone (ttl %d, key present %v)", id, alive.TTL, len(key.Kvs) == 1)
			} else {
				count("leases_alive", 1)
			}
			return nil
		})
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
}
