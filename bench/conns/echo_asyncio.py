#!/usr/bin/python3
"""The kernel's peer for bench/conns_bench.sh: a TCP echo server (RFC 862)
on Python asyncio, the kernel's TCP underneath.

    echo_asyncio.py ADDR PORT [BACKLOG]

Echoes every byte back and closes after the client's FIN. BACKLOG (listen's,
default 4096, the kernel's somaxconn) is the same as ustack's echo service
uses, so neither side turns connections away at the accept queue. Prints
"echo_asyncio: up" on stdout once it listens."""
import asyncio
import sys


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    backlog = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
    server = await asyncio.start_server(echo, addr, port, backlog=backlog)
    print("echo_asyncio: up", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
