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

/*
 * Make a ring with flags | optional, or with flags alone when the kernel refuses the optional
 * ones (-EINVAL: older than they are; they only make it faster). cq_entries 0: the default.
 * Returns 0 or -errno.
 */
static inline int dn_uring_init(struct io_uring *ring, unsigned int entries,
				unsigned int cq_entries, unsigned int flags, unsigned int optional)
{
	struct io_uring_params p = {.flags = flags | optional, .cq_entries = cq_entries};
	int ret;

	if (cq_entries)
		p.flags |= IORING_SETUP_CQSIZE;
	ret = io_uring_queue_init_params(entries, ring, &p);
	if (ret == -EINVAL && optional) {
		struct io_uring_params plain = {.flags = p.flags & ~optional,
						.cq_entries = cq_entries};

		ret = io_uring_queue_init_params(entries, ring, &plain);
	}
	if (!ret)
		dn_uring_created(ring);
	return ret;
}

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
