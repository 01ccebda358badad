/* SPDX-License-Identifier: GPL-2.0-only */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "rich_tp.h"
