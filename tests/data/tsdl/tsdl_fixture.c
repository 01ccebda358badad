/* TSDL comparison fixture: fires every event of the tsdlfix provider once.
 * Build: gcc -I. -o tsdl_fixture tsdl_fixture.c -llttng-ust -ldl */
#define TRACEPOINT_DEFINE
#define TRACEPOINT_CREATE_PROBES
#include "tsdl_fixture_tp.h"

#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	/* Optional delay so that the app can register before tracing starts. */
	if (argc > 1)
		sleep((unsigned int) atoi(argv[1]));

	static const uint8_t buf[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

	tracepoint(tsdlfix, scalars, -7, 42u, 0x1122334455667788ULL, 3.25, 1.5f);
	tracepoint(tsdlfix, compound, "hello", buf, 3, "abcdef");
	tracepoint(tsdlfix, enums, 3, 150);
	tracepoint(tsdlfix, noargs);
	tracepoint(tsdlfix, meta, 9);
	return 0;
}
