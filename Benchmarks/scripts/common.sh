# Shared by the benchmark scripts: source it, do not run it.

# Waits (at most 10 s) until something accepts connections on 127.0.0.1:$1.
wait_for_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}
