/* SPDX-License-Identifier: MIT */
/*
 * The one event-loop convention of disnvme's threads: every SQE a thread submits to its own
 * io_uring carries, as user_data, a pointer to a struct dn_event embedded in the object that
 * waits for it (a backend request, a queue's completion-channel poll, an eventfd, a ublk tag).
 * The loop calls ev->cb(ev, cqe) for each completion; the owner recovers its object with
 * container_of. No lookup tables, no allocation per event.
 */
#ifndef DISNVME_COMMON_URING_EVENT_H
#define DISNVME_COMMON_URING_EVENT_H

#include <stddef.h>
#include <liburing.h>

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct dn_event {
	void (*cb)(struct dn_event *ev, const struct io_uring_cqe *cqe);
};

/*
 * Ring setup and teardown. liburing maps and unmaps a ring with its own system calls, which
 * ThreadSanitizer does not see: a new ring at the address of one another thread destroyed
 * would look like a race with that thread. In TSan builds teardown releases and setup
 * acquires one sync object, the order the kernel's munmap and mmap give them.
 */
#if defined(__SANITIZE_THREAD__)
#define DN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DN_TSAN 1
#endif
#endif
#ifdef DN_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
__attribute__((weak)) char dn_uring_tsan_sync;

static inline void dn_uring_created(struct io_uring *ring)
{
	(void)ring;
	__tsan_acquire(&dn_uring_tsan_sync);
}

static inline void dn_uring_exit(struct io_uring *ring)
{
	__tsan_release(&dn_uring_tsan_sync);
	io_uring_queue_exit(ring);
}
#else
static inline void dn_uring_created(struct io_uring *ring)
{
	(void)ring;
}

static inline void dn_uring_exit(struct io_uring *ring)
{
	io_uring_queue_exit(ring);
}
#endif

static inline void dn_event_set(struct io_uring_sqe *sqe, struct dn_event *ev)
{
	io_uring_sqe_set_data(sqe, ev);
}

/* Reap every ready CQE and dispatch it; returns how many were handled. */
static inline unsigned int dn_event_dispatch(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe (ring, head, cqe) {
		struct dn_event *ev = (struct dn_event *)io_uring_cqe_get_data(cqe);

		if (ev)
			ev->cb(ev, cqe);
		n++;
	}
	io_uring_cq_advance(ring, n);
	return n;
}

#endif
