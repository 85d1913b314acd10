"""Processes for tests/security/test_broker.py: a probe RPC server and a caller.

    python probe.py serve URI          run a ``directory`` service (confide.rpc) until killed
    python probe.py call URI DELAY     call directory.get_probe(DELAY) as ``cli``; prints the reply queue first
"""
import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402
import time  # noqa: E402

from confide.rpc import ServiceRpcProxy, rpc  # noqa: E402


class DirectoryProbe:
    name = "directory"

    @rpc
    def get_probe(self, delay):
        eventlet.sleep(float(delay))
        return {"probe": "SECRET-REPLY-BODY", "slept": delay}


def main():
    mode, uri = sys.argv[1], sys.argv[2]
    cfg = {"AMQP_URI": uri, "serializer": "json"}
    if mode == "serve":
        from nameko.containers import ServiceContainer

        container = ServiceContainer(DirectoryProbe, cfg)
        container.start()
        print("serving", flush=True)
        while True:
            time.sleep(1)
    elif mode == "call":
        proxy = ServiceRpcProxy("directory", cfg, client="cli")
        directory = proxy.start()
        print(proxy._reply_listener.queue.name, flush=True)
        print(directory.get_probe(sys.argv[3]), flush=True)
        proxy.stop()


if __name__ == "__main__":
    main()
