/*
 * Test app for tests/ustctl_e2e.rs: emits `ustctl_test:value` with v = 0..N-1
 * (N = argv[1]), prints "emitted N" and then, if argv[2] is "wait", blocks
 * until stdin is closed before exiting.
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "tp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	char buf[16];

	for (int i = 0; i < n; i++)
		lttng_ust_tracepoint(ustctl_test, value, i);
	printf("emitted %d\n", n);
	fflush(stdout);
	if (argc > 2 && strcmp(argv[2], "wait") == 0)
		while (read(0, buf, sizeof(buf)) > 0)
			;
	return 0;
}
