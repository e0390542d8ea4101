// watchcheck runs one scripted Watch session against an etcd-compatible server over the raw gRPC
// Watch stream (the way clientv3 uses it) and prints every response, grouped by watch id in arrival
// order, with cluster and member ids left out. Run against real etcd and against Etcetera, the two
// transcripts must be equal.
//
// Usage: watchcheck ENDPOINT
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"go.etcd.io/etcd/mvcc/mvccpb"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: watchcheck ENDPOINT")
		os.Exit(2)
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Args[1]}, DialTimeout: 5 * time.Second})
	check(err)
	defer client.Close()
	ctx := context.Background()
	kv := pb.NewKVClient(client.ActiveConnection())
	put := func(key, value string) {
		_, err := kv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(value)})
		check(err)
	}

	// History before any watcher: revisions 2 to 6.
	put("a", "1")
	put("b", "1")
	put("a", "2")
	put("c", "1")
	_, err = kv.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: []byte("b")})
	check(err)

	stream, err := pb.NewWatchClient(client.ActiveConnection()).Watch(ctx)
	check(err)
	responses := make(chan *pb.WatchResponse, 1000)
	go func() {
		for {
			response, err := stream.Recv()
			if err != nil {
				close(responses)
				return
			}
			responses <- response
		}
	}()
	send := func(request *pb.WatchRequest) {
		check(stream.Send(request))
		time.Sleep(150 * time.Millisecond)
	}
	create := func(request *pb.WatchCreateRequest) {
		send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: request}})
	}

	create(&pb.WatchCreateRequest{Key: []byte("a")})
	create(&pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("d"), StartRevision: 2, PrevKv: true})
	create(&pb.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 1, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}})
	create(&pb.WatchCreateRequest{Key: []byte("c"), WatchId: 7})
	create(&pb.WatchCreateRequest{Key: []byte("c"), WatchId: 7})
	create(&pb.WatchCreateRequest{Key: []byte("z"), RangeEnd: []byte("a")})
	create(&pb.WatchCreateRequest{Key: []byte("b"), StartRevision: 100})
	create(&pb.WatchCreateRequest{Key: []byte("c"), Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}})
	send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}})

	// Live writes: revisions 7 to 9, the last a transaction of two changes.
	put("a", "3")
	put("c", "2")
	_, err = kv.Txn(ctx, &pb.TxnRequest{Success: []*pb.RequestOp{
		{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: []byte("4")}}},
		{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("c")}}},
	}})
	check(err)
	time.Sleep(300 * time.Millisecond)

	send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: 0}}})
	send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: 99}}})
	put("a", "5")
	_, err = kv.Compact(ctx, &pb.CompactionRequest{Revision: 8, Physical: true})
	check(err)
	create(&pb.WatchCreateRequest{Key: []byte("a"), StartRevision: 3})
	create(&pb.WatchCreateRequest{Key: []byte("a"), StartRevision: 8})
	time.Sleep(500 * time.Millisecond)
	check(stream.CloseSend())

	byWatch := map[int64][]string{}
	timeout := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case response, ok := <-responses:
			if !ok {
				done = true
				break
			}
			byWatch[response.WatchId] = append(byWatch[response.WatchId], describe(response))
		case <-timeout:
			done = true
		}
	}
	ids := []int64{}
	for id := range byWatch {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		fmt.Printf("watch %d\n", id)
		for _, line := range byWatch[id] {
			fmt.Printf("  %s\n", line)
		}
	}
}

func describe(response *pb.WatchResponse) string {
	parts := []string{fmt.Sprintf("rev=%d", response.Header.GetRevision())}
	if response.Created {
		parts = append(parts, "created")
	}
	if response.Canceled {
		parts = append(parts, fmt.Sprintf("canceled(%q)", response.CancelReason))
	}
	if response.CompactRevision != 0 {
		parts = append(parts, fmt.Sprintf("compact=%d", response.CompactRevision))
	}
	if response.Fragment {
		parts = append(parts, "fragment")
	}
	for _, event := range response.Events {
		parts = append(parts, describeEvent(event))
	}
	return strings.Join(parts, " ")
}

func describeEvent(event *mvccpb.Event) string {
	text := fmt.Sprintf("%s %s=%s@%d/%d/v%d", event.Type, event.Kv.Key, event.Kv.Value, event.Kv.CreateRevision, event.Kv.ModRevision, event.Kv.Version)
	if event.PrevKv != nil {
		text += fmt.Sprintf(" prev %s=%s@%d", event.PrevKv.Key, event.PrevKv.Value, event.PrevKv.ModRevision)
	}
	return "[" + text + "]"
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "watchcheck:", err)
		os.Exit(1)
	}
}
