/* SPDX-License-Identifier: GPL-2.0-only */
/* Fires rich:simple and rich:all once a second for argv[1] seconds (default 5). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "rich_tp.h"

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5;
	const uint8_t arr[4] = { 1, 2, 3, 4 };
	for (int n = 0; n < secs; n++) {
		lttng_ust_tracepoint(rich, simple, n);
		lttng_ust_tracepoint(rich, all, n, 0xdeadbeefULL, 80, 1.5, 2.5f, "hi", arr, "ok", 3);
		sleep(1);
	}
	return 0;
}
