extension EtcdConfiguration {
    /// The text `etcetera --help` prints.
    public static let usage = """
        Usage:

          etcetera [flags]
            Start Etcetera, an etcd v3 compatible key-value store, with every service on this machine.

          etcetera --version
            Show the version of Etcetera and of the etcd API it serves.

          etcetera snapshot restore|status FILE ...
            Restore a snapshot into a new data directory, or verify one and print its status
            (etcetera snapshot --help).

          etcetera bus-keys DIR
            Make the CURVE key pairs that --bus-curve-keys DIR uses to encrypt tcp:// bus endpoints.
          etcetera bus-keys --client NAME DIR
            Admit one more client (a process on another machine): its key pair goes to
            DIR/clients/NAME/, the --bus-curve-keys directory to copy to its machine.

          etcetera -h | --help
            Show this help.

        Flags take the forms --flag value, --flag=value and, for booleans, --flag or --flag=false.
        Each flag can also be set with the environment variable ETCD_<FLAG_NAME> (--data-dir is
        ETCD_DATA_DIR); a flag on the command line wins over the variable.

        Member:
          --config-file ''
            Path to a YAML file of etcd's configuration keys; when given, other flags and ETCD_*
            variables are ignored, as in etcd.
          --name 'default'
            Human-readable name for this member.
          --data-dir '${name}.etcd'
            Path to the data directory.
          --quota-backend-bytes '0'
            Raise alarms when backend size exceeds the given quota (0 defaults to low space quota, 2 GiB).
          --max-txn-ops '128'
            Maximum number of operations permitted in a transaction.
          --max-request-bytes '1572864'
            Maximum client request size in bytes the server will accept.
          --max-concurrent-streams 'math.MaxUint32'
            Maximum concurrent streams that each client can open at a time.
          --grpc-keepalive-min-time '5s'
            Minimum duration interval that a client should wait before pinging server (0: gRPC's 5m, as etcd).
          --grpc-keepalive-interval '2h'
            Frequency duration of server-to-client ping to check if a connection is alive (0: gRPC's 2h, as etcd).
          --grpc-keepalive-timeout '20s'
            Additional duration of wait before closing a non-responsive connection (0: gRPC's 20s, as etcd).
          --client-idle-timeout '5m'
            Etcetera's own: a client connection with no call or request in progress for this long is
            closed (gRPC with GOAWAY first; clients reconnect at their next call).

        Clustering:
          --listen-client-urls 'http://localhost:2379'
            List of URLs to listen on for client traffic; the first http:// URL is served.
          --advertise-client-urls 'http://localhost:2379'
            List of this member's client URLs to advertise to the public.
          --cors '*'
            Comma-separated white list of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).
          --host-whitelist '*'
            Acceptable hostnames from HTTP client requests, if server is not secure (empty means allow all).
          --initial-advertise-peer-urls 'http://localhost:2380'
            List of this member's peer URLs to advertise (member list; with --name they make the member ID).
          --auto-compaction-mode 'periodic'
            Interpret 'auto-compaction-retention' one of: periodic|revision.
          --auto-compaction-retention '0'
            Auto compaction retention length. 0 means disable auto compaction.

        Profiling and Monitoring:
          --listen-metrics-urls ''
            List of URLs to listen on for the metrics and health endpoints (http:// URLs are served).

        Security:
          --cert-file ''
            Path to the client server TLS cert file (an https:// client URL needs it, or --auto-tls).
          --key-file ''
            Path to the client server TLS key file.
          --client-cert-auth 'false'
            Enable client cert authentication: clients need a certificate from --trusted-ca-file, and with
            auth enabled a request without a token is made as the certificate's common name.
          --trusted-ca-file ''
            Path to the client server TLS trusted CA cert file.
          --cipher-suites ''
            Comma-separated list of supported TLS cipher suites between client/server (empty will be auto-populated by the TLS library).
          --auto-tls 'false'
            Client TLS using generated certificates (kept in <data-dir>/fixtures/client).

        Auth:
          --auth-token 'simple'
            Specify a v3 authentication token type and its options ('simple' or 'jwt').
          --auth-token-ttl 300
            Time (in seconds) of the auth-token-ttl.
          --bcrypt-cost 10
            Specify bcrypt algorithm cost factor for auth password hashing.

        Logging:
          --logger 'capnslog'
            Specify 'zap' or 'capnslog': the shape of the readiness lines scripts wait for.
          --log-level 'info'
            Configures log level. Only supports debug, info, warn, error.
          --log-outputs 'default'
            Specify 'stdout' or 'stderr', or (with zap) a comma-separated list of those and file paths.

        Experimental:
          --experimental-initial-corrupt-check 'false'
            Accepted for etcd's scripts; the store checks its data at every start.
          --experimental-corrupt-check-time '0s'
            Duration of time between whole-store corruption checks while serving (0: at start only).
          --experimental-compaction-batch-limit '1000'
            Sets the maximum revisions deleted in each compaction batch.
          --experimental-enable-lease-checkpoint 'false'
            Enable to persist lease remaining TTL to prevent indefinite auto-renewal of long lived leases.
          --experimental-watch-progress-notify-interval '10m0s'
            Duration of periodic watch progress notifications.

        Etcetera:
          --watch-processes '1'
            Number of watch fan-out processes to run (1 to 64).
          --bus-listen ''
            Serve the kv store's bus on tcp://HOST:PORT (events on PORT+1) so that watch processes
            on other machines can join with etcetera-watch --bus tcp://HOST:PORT (default: ipc:// only).
          --external-watch-endpoints ''
            Comma-separated tcp:// endpoints of watch processes running elsewhere; the gateway
            spreads watch streams over them and its own.
          --auth-backend 'builtin'
            The auth backend (docs/auth-plugins.md): builtin (etcetera-auth, state in the data
            directory); file:PATH (etcetera-auth-file, read-only, users and roles from a JSON file);
            exec:COMMAND (runs COMMAND, split on spaces, with --listen, --events, --auth-token-ttl,
            --data-dir, --bcrypt-cost and --log-level appended); endpoint:REQUESTS,EVENTS (a backend
            already running there: nothing is started, the gateway connects to both endpoints).
          --bus-curve-keys ''
            Directory of CURVE keys (etcetera bus-keys DIR): every service encrypts its tcp:// bus
            endpoints with them, clients check the server's key, and servers admit only the clients
            whose public keys are in DIR (ipc:// stays as it is). tcp:// bus endpoints
            (--bus-listen, --external-watch-endpoints) are refused without it.
          --bus-insecure 'false'
            Accept tcp:// bus endpoints without --bus-curve-keys: plaintext and unauthenticated,
            anyone who reaches them can read and change every key. Every start warns.

        Environment:
          ETCETERA_BIN_DIR
            Directory holding the service executables (default: the directory of etcetera itself).

        Other etcd flags (clustering, peer URLs, peer TLS, v2, experimental, ...) are accepted and ignored
        with a warning: Etcetera is a single member.
        """
}
