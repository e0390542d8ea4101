#include "bus.h"

#include "log.h"

#include <errno.h>
#include <string.h>

#define HEADER_SIZE 16
#define VERSION 1
#define COMMAND_REQUEST 0x01
#define COMMAND_PING 0x02
#define COMMAND_FINAL 0x04
#define COMMAND_PONG 0x05
/* Bus high-water marks, as the Swift side sets them. */
#define HIGH_WATER_MARK 100000
/* A bound on one incoming message; auth requests are a few hundred bytes, the gateway's largest request
 * 1.5 MiB. ZeroMQ drops the connection of a peer that sends more. */
#define MAX_MESSAGE_BYTES (16 * 1024 * 1024)

static uint64_t dropped;

typedef struct {
    int name;
    const void *value;
    size_t size;
} SocketOption;

/* A socket of `type` with `options`, bound to `endpoint`; NULL on failure with errno from ZeroMQ. */
static void *bind_socket(void *context, int type, const SocketOption *options, size_t count, const char *endpoint) {
    void *socket = zmq_socket(context, type);
    if (socket == NULL) return NULL;
    bool ready = true;
    for (size_t i = 0; ready && i < count; i++) ready = zmq_setsockopt(socket, options[i].name, options[i].value, options[i].size) == 0;
    if (!ready || zmq_bind(socket, endpoint) != 0) {
        int saved = errno;
        zmq_close(socket);
        errno = saved;
        return NULL;
    }
    return socket;
}

void *bus_bind(void *context, const char *endpoint, int heartbeat_milliseconds) {
    int zero = 0, one = 1, high_water_mark = HIGH_WATER_MARK, heartbeat_timeout = 3 * heartbeat_milliseconds;
    int64_t max_message = MAX_MESSAGE_BYTES;
    const SocketOption options[] = {
        {ZMQ_LINGER, &zero, sizeof zero},
        {ZMQ_ROUTER_MANDATORY, &one, sizeof one},
        {ZMQ_SNDHWM, &high_water_mark, sizeof high_water_mark},
        {ZMQ_RCVHWM, &high_water_mark, sizeof high_water_mark},
        {ZMQ_HEARTBEAT_IVL, &heartbeat_milliseconds, sizeof heartbeat_milliseconds},
        {ZMQ_HEARTBEAT_TIMEOUT, &heartbeat_timeout, sizeof heartbeat_timeout},
        {ZMQ_MAXMSGSIZE, &max_message, sizeof max_message},
    };
    return bind_socket(context, ZMQ_ROUTER, options, sizeof options / sizeof options[0], endpoint);
}

void *bus_bind_publisher(void *context, const char *endpoint) {
    int zero = 0, high_water_mark = HIGH_WATER_MARK;
    const SocketOption options[] = {
        {ZMQ_LINGER, &zero, sizeof zero},
        {ZMQ_SNDHWM, &high_water_mark, sizeof high_water_mark},
    };
    return bind_socket(context, ZMQ_PUB, options, sizeof options / sizeof options[0], endpoint);
}

static void encode_header(uint8_t header[HEADER_SIZE], uint8_t command, uint64_t request_id) {
    header[0] = 'E';
    header[1] = 'T';
    header[2] = VERSION;
    header[3] = command;
    for (int i = 0; i < 8; i++) header[4 + i] = (uint8_t)(request_id >> (56 - 8 * i));
    memset(header + 12, 0, 4); /* argument: 0 for PONG, status OK for FINAL */
}

static uint64_t decode_request_id(const uint8_t header[HEADER_SIZE]) {
    uint64_t request_id = 0;
    for (int i = 0; i < 8; i++) request_id = (request_id << 8) | header[4 + i];
    return request_id;
}

static void send_frames(void *router, const BusCaller *caller, uint8_t command, const void *payload, size_t length,
                        bool has_payload) {
    uint8_t header[HEADER_SIZE];
    encode_header(header, command, caller->request_id);
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    if (zmq_send(router, caller->routing_id, caller->routing_id_length, more) < 0
        || zmq_send(router, header, HEADER_SIZE, has_payload ? more : ZMQ_DONTWAIT) < 0
        || (has_payload && zmq_send(router, payload, length, ZMQ_DONTWAIT) < 0)) {
        /* ROUTER_MANDATORY fails the first frame for a client that is gone; nothing was sent then. */
        log_message(LOG_DEBUG, "reply to request %llu dropped: %s", (unsigned long long)caller->request_id,
                    zmq_strerror(errno));
    }
}

void bus_send_final(void *router, const BusCaller *caller, const void *payload, size_t length) {
    send_frames(router, caller, COMMAND_FINAL, payload, length, true);
}

static void drop(const char *why, size_t frames) {
    dropped++;
    log_message(LOG_DEBUG, "dropped a malformed message: %s (%zu frames)", why, frames);
}

int bus_receive(void *router, BusRequest *request) {
    /* [routing id][header][payload]; more frames are read and thrown away. */
    zmq_msg_t frames[3];
    size_t count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t *frame = &frames[count < 3 ? count : 2];
        if (count >= 3) zmq_msg_close(frame);
        zmq_msg_init(frame);
        if (zmq_msg_recv(frame, router, count == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(frame);
            for (size_t i = 0; i < (count < 3 ? count : 2); i++) zmq_msg_close(&frames[i]);
            return -1;
        }
        more = zmq_msg_more(frame);
        count++;
    }
    size_t kept = count < 3 ? count : 3;
    int result = 0;
    const uint8_t *header = kept >= 2 ? zmq_msg_data(&frames[1]) : NULL;
    if (kept < 2) {
        drop("no header frame", count);
    } else if (zmq_msg_size(&frames[0]) > sizeof request->caller.routing_id) {
        drop("routing id too long", count);
    } else if (zmq_msg_size(&frames[1]) != HEADER_SIZE || header[0] != 'E' || header[1] != 'T' || header[2] != VERSION) {
        drop("not an Etcetera bus header", count);
    } else if (header[3] == COMMAND_PING && count == 2) {
        BusCaller caller = {.routing_id_length = zmq_msg_size(&frames[0]), .request_id = decode_request_id(header)};
        memcpy(caller.routing_id, zmq_msg_data(&frames[0]), caller.routing_id_length);
        send_frames(router, &caller, COMMAND_PONG, NULL, 0, false);
    } else if (header[3] == COMMAND_REQUEST && count == 3) {
        request->caller.routing_id_length = zmq_msg_size(&frames[0]);
        memcpy(request->caller.routing_id, zmq_msg_data(&frames[0]), request->caller.routing_id_length);
        request->caller.request_id = decode_request_id(header);
        zmq_msg_init(&request->payload);
        zmq_msg_move(&request->payload, &frames[2]);
        result = 1;
    } else {
        drop("unexpected command or frame count", count);
    }
    for (size_t i = 0; i < kept; i++) zmq_msg_close(&frames[i]);
    return result;
}

uint64_t bus_take_dropped_count(void) {
    uint64_t count = dropped;
    dropped = 0;
    return count;
}
