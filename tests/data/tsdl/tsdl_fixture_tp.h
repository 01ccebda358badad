/* Tracepoint provider for the TSDL comparison fixture (ustd tests). */
#undef TRACEPOINT_PROVIDER
#define TRACEPOINT_PROVIDER tsdlfix

#undef TRACEPOINT_INCLUDE
#define TRACEPOINT_INCLUDE "./tsdl_fixture_tp.h"

#if !defined(TSDL_FIXTURE_TP_H) || defined(TRACEPOINT_HEADER_MULTI_READ)
#define TSDL_FIXTURE_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

TRACEPOINT_ENUM(tsdlfix, color,
	TP_ENUM_VALUES(
		ctf_enum_value("RED", 0)
		ctf_enum_range("GREENISH", 1, 5)
		ctf_enum_auto("AUTO")
		ctf_enum_value("quo\"te\\", 100)
		ctf_enum_value("NEG", -3)
	)
)

TRACEPOINT_ENUM(tsdlfix, state,
	TP_ENUM_VALUES(
		ctf_enum_value("IDLE", 0)
		ctf_enum_range("BUSY", 1, 200)
		ctf_enum_value("MAX", 4294967295ULL)
	)
)

TRACEPOINT_EVENT(tsdlfix, scalars,
	TP_ARGS(int, i, unsigned int, u, uint64_t, x, double, d, float, f),
	TP_FIELDS(
		ctf_integer(int, i, i)
		ctf_integer(unsigned int, u, u)
		ctf_integer_hex(unsigned int, hex32, u)
		ctf_integer(uint64_t, u64, x)
		ctf_integer_hex(uint64_t, x64, x)
		ctf_integer_network(uint16_t, net16, (uint16_t) u)
		ctf_integer_network_hex(uint32_t, net32hex, u)
		ctf_integer(int8_t, s8, (int8_t) i)
		ctf_integer(short, s16, (short) i)
		ctf_integer(long, lng, (long) i)
		ctf_integer(unsigned long, ulng, (unsigned long) u)
		ctf_float(double, d, d)
		ctf_float(float, f, f)
		ctf_integer_nowrite(int, hidden, i)
	)
)

TRACEPOINT_EVENT(tsdlfix, compound,
	TP_ARGS(const char *, s, const uint8_t *, buf, unsigned int, len, const char *, txt),
	TP_FIELDS(
		ctf_string(str, s)
		ctf_array(uint8_t, arr, buf, 4)
		ctf_array_hex(uint32_t, arrhex, buf, 2)
		ctf_array_text(char, arrtext, txt, 3)
		ctf_sequence(uint8_t, seq, buf, unsigned int, len)
		ctf_sequence_hex(uint16_t, seqhex, buf, uint8_t, len)
		ctf_sequence_text(char, seqtext, txt, size_t, len)
		ctf_array_network(uint16_t, arrnet, buf, 2)
	)
)

TRACEPOINT_EVENT(tsdlfix, enums,
	TP_ARGS(int, c, unsigned int, st),
	TP_FIELDS(
		ctf_enum(tsdlfix, color, int, col, c)
		ctf_enum(tsdlfix, state, unsigned int, st, st)
		ctf_enum(tsdlfix, color, int8_t, col8, c)
	)
)

TRACEPOINT_EVENT(tsdlfix, noargs,
	TP_ARGS(),
	TP_FIELDS()
)

TRACEPOINT_EVENT(tsdlfix, meta,
	TP_ARGS(int, v),
	TP_FIELDS(
		ctf_integer(int, v, v)
	)
)
TRACEPOINT_LOGLEVEL(tsdlfix, meta, TRACE_WARNING)
TRACEPOINT_MODEL_EMF_URI(tsdlfix, meta, "http://example.com/model")

#endif /* TSDL_FIXTURE_TP_H */

#include <lttng/tracepoint-event.h>
