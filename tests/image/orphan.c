/* Leaves an orphan for the container's PID 1 to reap (tests/image/acceptance.py).
 *
 * Run inside a running container with `docker exec`: it forks a child and exits at once. The
 * child, orphaned, is re-parented to PID 1 of the container's PID namespace, sleeps 300 ms and
 * exits. If PID 1 reaps (tini does), nothing is left; if it does not (tinyweb as PID 1, which
 * only waits for its own threads), the child stays a zombie, state Z, for the container's life.
 * Built static with musl-gcc: the images have no libc to link against. */
#include <time.h>
#include <unistd.h>

int main(void) {
    pid_t child = fork();
    if (child < 0) {
        return 1;
    }
    if (child == 0) {
        struct timespec pause = {0, 300 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return 0;
}
