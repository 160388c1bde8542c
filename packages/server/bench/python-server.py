# The Python asyncio + SO_PEERCRED server of the bench, with bench/server.mjs's stdin protocol
# (mark / report; heap commands are not supported: the heap figures compare Node servers only).
import asyncio
import json
import socket
import struct
import sys
import threading
import time

CRED = struct.Struct("3i")
state = {"accepted": 0, "cpu": time.process_time()}


async def on_client(reader, writer):
    sock = writer.get_extra_info("socket")
    pid, uid, gid = CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, CRED.size))
    state["accepted"] += 1
    writer.write(b"x")
    writer.close()


def commands(loop):
    for line in sys.stdin:
        command = line.strip()
        if command == "mark":
            def mark():
                state["cpu"] = time.process_time()
                state["accepted"] = 0
                print("ok", flush=True)
            loop.call_soon_threadsafe(mark)
        elif command == "report":
            def report():
                cpu_us = int((time.process_time() - state["cpu"]) * 1e6)
                print(json.dumps({"cpuUs": cpu_us, "accepted": state["accepted"]}), flush=True)
            loop.call_soon_threadsafe(report)
    loop.call_soon_threadsafe(loop.stop)


def main():
    path = sys.argv[2]
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_unix_server(on_client, path=path, backlog=4096))
    print("ready", flush=True)
    threading.Thread(target=commands, args=(loop,), daemon=True).start()
    loop.run_forever()
    server.close()


main()
