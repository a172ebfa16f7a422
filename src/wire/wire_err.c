/* Human-readable names for enum us_wire_err, for logs and tools. */
#include "ustack/wire.h"

const char *us_wire_strerror(int err)
{
    switch (err) {
    case US_WIRE_OK:
        return "ok";
    case US_WIRE_TRUNCATED:
        return "truncated";
    case US_WIRE_BAD_VERSION:
        return "bad version";
    case US_WIRE_BAD_HDRLEN:
        return "bad header length";
    case US_WIRE_BAD_LENGTH:
        return "bad length";
    case US_WIRE_BAD_CSUM:
        return "bad checksum";
    case US_WIRE_BAD_OPTION:
        return "bad option";
    case US_WIRE_UNSUPPORTED:
        return "unsupported";
    default:
        return "unknown wire error";
    }
}
