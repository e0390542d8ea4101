#ifndef ETCETERA_AUTH_C_BUS_H
#define ETCETERA_AUTH_C_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

/* The server side of Etcetera's request/reply bus (docs/bus.md) on a ZeroMQ ROUTER socket: 16-byte
 * headers "ET", version 1, command, request id (big-endian), argument (big-endian). PINGs are answered
 * inside bus_receive; anything malformed is dropped and counted. */

/* Who to answer: the connection's routing id (at most 255 bytes in ZeroMQ) and the request id. */
typedef struct {
    uint8_t routing_id[256];
    size_t routing_id_length;
    uint64_t request_id;
} BusCaller;

typedef struct {
    BusCaller caller;
    zmq_msg_t payload; /* the caller closes it */
} BusRequest;

/* Binds a ROUTER with the options the Swift server uses. NULL on failure (errno set by ZeroMQ). */
void *bus_bind(void *context, const char *endpoint, int heartbeat_milliseconds);

/* Binds the PUB socket for events (one frame each, no header) with the Swift publisher's options. */
void *bus_bind_publisher(void *context, const char *endpoint);

/* Reads one message without blocking. Returns 1 with a REQUEST in `request`, 0 when a message was handled
 * here (PONG sent) or dropped, -1 when nothing is waiting. */
int bus_receive(void *router, BusRequest *request);

/* Sends FINAL (status OK) with `payload`; a vanished client's reply is dropped. */
void bus_send_final(void *router, const BusCaller *caller, const void *payload, size_t length);

/* How many malformed messages were dropped since the last call (for the periodic warning). */
uint64_t bus_take_dropped_count(void);

#endif
