// SPDX-License-Identifier: MIT
/*
 * The file and block device backend: NVM commands as io_uring operations on the poll group's
 * ring (read, write with RWF_DSYNC for FUA, fdatasync for Flush, fallocate zero range or hole
 * punch for Write Zeroes and deallocate). O_DIRECT where the file system or device takes it.
 * Each request is a small state machine in be_priv: the step it is in and its progress.
 * A tmpfs file's page cache is its storage: it is mapped, and reads and writes are memcpy on
 * the queue's thread, with no system call per I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "target/core_internal.h"

#define DN_FILE_LBA_SHIFT 9 /* regular files: 512-byte blocks, what every O_DIRECT takes */
#define DN_WZ_DEAC	  (1u << 25)
#define DN_RW_FUA	  (1u << 30)

enum dn_file_step {
	DN_FILE_STEP_MAIN, /* the command's own operation(s) */
	DN_FILE_STEP_SYNC, /* Write Zeroes with FUA: the fdatasync after */
};

/* be_priv slots */
#define BE_STEP 0
#define BE_DONE 1 /* bytes moved so far (read/write), ranges done (DSM) */
#define BE_MODE 2 /* fallocate mode in use */

/*
 * A mapped file that shrinks under us (truncated by someone else) raises SIGBUS on the pages
 * past its new end. The copy sets a jump point for its thread; the handler returns there and
 * the command fails like a short read would, instead of the target dying.
 */
static __thread sigjmp_buf *mem_copy_jb;
static struct sigaction mem_sigbus_prev;

static void mem_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (mem_copy_jb)
		siglongjmp(*mem_copy_jb, 1);
	/* not a copy of ours: what would have happened without us */
	if (mem_sigbus_prev.sa_flags & SA_SIGINFO && mem_sigbus_prev.sa_sigaction) {
		mem_sigbus_prev.sa_sigaction(sig, si, uc);
		return;
	}
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

void dn_file_sigbus_install(void)
{
	struct sigaction sa, cur;

	/* already ours: keep the handler saved the first time, never chain to ourselves */
	if (!sigaction(SIGBUS, NULL, &cur) && cur.sa_flags & SA_SIGINFO &&
	    cur.sa_sigaction == mem_sigbus)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mem_sigbus;
	/* not blocked while handled: the thread leaves the handler by siglongjmp */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &mem_sigbus_prev);
}

/*
 * The mapping is the namespace's medium, which several hosts read and write at once by design
 * (what orders their accesses travels over the network, out of TSan's sight): TSan builds do
 * not track the copy, as they never saw the kernel's copy for pread/pwrite. (A copy left by
 * siglongjmp needs no end: TSan's longjmp restores the ignore state of the sigsetjmp.)
 */
#ifdef DN_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);

static void medium_copy(void *dst, const void *src, size_t len)
{
	AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
	AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
	memcpy(dst, src, len);
	AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
	AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
}
#else
static void medium_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}
#endif

static nvme_status_t mem_copy(struct dn_tgt_ns *ns, bool read, void *dst, const void *src,
			      size_t len)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 0)) {
		sigset_t bus;

		mem_copy_jb = NULL;
		/*
		 * Not saving the mask keeps a system call off every copy; the handler runs with
		 * SIGBUS unblocked (SA_NODEFER), but a runtime that wraps handlers (TSan's) may
		 * not, and a second SIGBUS while it is blocked would kill the process.
		 */
		sigemptyset(&bus);
		sigaddset(&bus, SIGBUS);
		pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
		if (!atomic_exchange(&ns->mem_fault_logged, true))
			dn_err("namespace %u: %s is shorter than the namespace now (truncated?): "
			       "failing I/O past its end",
			       ns->nsid, ns->path);
		return errno_to_nvme_status(read ? -ENODATA : -EIO);
	}
	mem_copy_jb = &jb;
	medium_copy(dst, src, len);
	mem_copy_jb = NULL;
	return 0;
}

/*
 * Fill the mapping's page tables for the blocks the file holds, so that reading them later
 * takes no page fault (one per 64 KiB at best, from the first I/O to each part of the file,
 * which a random read workload pays for most of its I/Os). Holes stay holes: populating one
 * would allocate its memory, so it is faulted in when first written or read.
 */
static void dn_file_map_populate(struct dn_tgt_ns *ns)
{
	off_t data = 0, hole;

	while ((data = lseek(ns->fd_buffered, data, SEEK_DATA)) >= 0 &&
	       (size_t)data < ns->mem_len) {
		hole = lseek(ns->fd_buffered, data, SEEK_HOLE);
		if (hole < 0 || (size_t)hole > ns->mem_len)
			hole = (off_t)ns->mem_len;
		if (madvise(ns->mem_map + data, (size_t)(hole - data), MADV_POPULATE_READ)) {
			/* before 5.14, or the file shrank meanwhile: faults will do it */
			dn_dbg("namespace %u: prefaulting %s: %s", ns->nsid, ns->path,
			       strerror(errno));
			return;
		}
		data = hole;
	}
}

static void dn_file_map(struct dn_tgt_ns *ns, bool read_only)
{
	size_t len = (size_t)(ns->nlbas << ns->lba_shift);
	void *p;

	p = mmap(NULL, len, PROT_READ | (read_only ? 0 : PROT_WRITE), MAP_SHARED, ns->fd_buffered,
		 0);
	if (p == MAP_FAILED) {
		/* pread/pwrite still work: slower, not wrong */
		dn_warn("namespace %u: cannot map %s (%s): copying with system calls", ns->nsid,
			ns->path, strerror(errno));
		return;
	}
	dn_file_sigbus_install();
	ns->mem_map = p;
	ns->mem_len = len;
	dn_file_map_populate(ns);
}

static int dn_file_open(struct dn_tgt_ns *ns, const char *path, bool read_only)
{
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct statfs sfs;
	uint64_t size;
	struct stat st;
	int ret;

	ns->fd_buffered = open(path, flags);
	if (ns->fd_buffered < 0)
		return -errno;
	if (fstat(ns->fd_buffered, &st)) {
		ret = -errno;
		goto out_close_buffered;
	}
	if (S_ISBLK(st.st_mode)) {
		int lbs;

		if (ioctl(ns->fd_buffered, BLKGETSIZE64, &size) ||
		    ioctl(ns->fd_buffered, BLKSSZGET, &lbs)) {
			ret = -errno;
			goto out_close_buffered;
		}
		ns->is_blkdev = true;
		ns->lba_shift = (uint8_t)__builtin_ctz((unsigned int)lbs);
		ns->dlfeat = 0;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		ns->lba_shift = DN_FILE_LBA_SHIFT;
		/* punched holes read back as zeroes; Write Zeroes may deallocate */
		ns->dlfeat = 0x1 | 0x8;
	} else {
		ret = -EINVAL;
		goto out_close_buffered;
	}
	ns->nlbas = size >> ns->lba_shift;
	if (!ns->nlbas) {
		ret = -EINVAL;
		goto out_close_buffered;
	}
	/* tmpfs takes O_DIRECT (6.6+) but its page cache is the storage: see dn_file_rw_mem */
	ns->mem_backed =
		!ns->is_blkdev && !fstatfs(ns->fd_buffered, &sfs) && sfs.f_type == TMPFS_MAGIC;
	if (ns->mem_backed) {
		ns->fd = -1;
		dn_file_map(ns, read_only);
	} else
		ns->fd = open(path, flags | O_DIRECT);
	if (ns->fd >= 0) {
		ns->dio_align = 1u << ns->lba_shift;
	} else {
		/* tmpfs and friends: buffered it is */
		ns->fd = ns->fd_buffered;
		ns->dio_align = 0;
	}
	return 0;
out_close_buffered:
	close(ns->fd_buffered);
	ns->fd_buffered = -1;
	return ret;
}

static void dn_file_close(struct dn_tgt_ns *ns)
{
	if (ns->mem_map)
		munmap(ns->mem_map, ns->mem_len);
	ns->mem_map = NULL;
	if (ns->fd >= 0 && ns->fd != ns->fd_buffered)
		close(ns->fd);
	if (ns->fd_buffered >= 0)
		close(ns->fd_buffered);
	ns->fd = ns->fd_buffered = -1;
}

static struct io_uring_sqe *dn_be_get_sqe(struct dn_tgt_req *req)
{
	struct io_uring *ring = dn_pg_ring(req->queue->pg);
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		/* the ring is full of unsubmitted work: push it out and retry once */
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	if (sqe)
		dn_event_set(sqe, &req->be_ev);
	return sqe;
}

static uint64_t dn_file_offset(const struct dn_tgt_req *req)
{
	uint64_t slba = (uint64_t)dn_sqe_cdw(req->sqe, 11) << 32 | dn_sqe_cdw(req->sqe, 10);

	return slba << req->ns->lba_shift;
}

static int dn_file_fd_for(const struct dn_tgt_req *req, const void *buf, uint32_t len)
{
	const struct dn_tgt_ns *ns = req->ns;

	if (ns->dio_align && !(((uintptr_t)buf | len) & (ns->dio_align - 1)))
		return ns->fd;
	return ns->fd_buffered;
}

static bool dn_file_queue_rw(struct dn_tgt_req *req)
{
	uint64_t done = req->be_priv[BE_DONE];
	uint8_t *buf = (uint8_t *)req->data + done;
	uint32_t len = req->data_len - (uint32_t)done;
	struct io_uring_sqe *sqe = dn_be_get_sqe(req);
	int fd;

	if (!sqe)
		return false;
	fd = dn_file_fd_for(req, buf, len);
	if (req->sqe->opcode == nvme_cmd_read) {
		io_uring_prep_read(sqe, fd, buf, len, dn_file_offset(req) + done);
	} else {
		io_uring_prep_write(sqe, fd, buf, len, dn_file_offset(req) + done);
		if (dn_sqe_cdw(req->sqe, 12) & DN_RW_FUA)
			sqe->rw_flags = RWF_DSYNC;
	}
	return true;
}

/*
 * tmpfs: the page cache is the storage, so a read or write is a copy. tmpfs does not take
 * non-blocking I/O, so io_uring would hand every one of them to a worker thread; copying
 * here instead costs less than that round trip (the kernel target does the same). From the
 * mapping it is a memcpy, without a system call; without one (mmap refused), pread/pwrite.
 * Returns 0 when done, or the status to complete with.
 */
static nvme_status_t dn_file_rw_mem(struct dn_tgt_req *req)
{
	off_t off = (off_t)dn_file_offset(req);
	uint32_t done = 0;

	/* the core checked the range against the namespace, which the mapping covers */
	if (req->ns->mem_map) {
		uint8_t *medium = req->ns->mem_map + off;
		const struct dn_tgt_transport_ops *ops = req->queue->ops;

		if (req->sqe->opcode != nvme_cmd_read)
			return mem_copy(req->ns, false, medium, req->data, req->data_len);
		/*
		 * Large reads go out from the page cache itself when the transport can send from
		 * it (it fails for pages past a truncated end, which the copy then reports).
		 */
		if (ops->send_from && !ops->send_from(req, medium))
			return 0;
		return mem_copy(req->ns, true, req->data, medium, req->data_len);
	}
	while (done < req->data_len) {
		uint8_t *p = (uint8_t *)req->data + done;
		ssize_t n =
			req->sqe->opcode == nvme_cmd_read
				? pread(req->ns->fd_buffered, p, req->data_len - done, off + done)
				: pwrite(req->ns->fd_buffered, p, req->data_len - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno_to_nvme_status(-errno);
		if (!n) /* nothing past the end: the file shrank under us */
			return errno_to_nvme_status(req->sqe->opcode == nvme_cmd_read ? -ENODATA
										      : -EIO);
		done += (uint32_t)n;
	}
	return 0;
}

static bool dn_file_queue_fsync(struct dn_tgt_req *req)
{
	struct io_uring_sqe *sqe = dn_be_get_sqe(req);

	if (!sqe)
		return false;
	io_uring_prep_fsync(sqe, req->ns->fd_buffered, IORING_FSYNC_DATASYNC);
	return true;
}

static bool dn_file_queue_fallocate(struct dn_tgt_req *req, int mode, uint64_t off, uint64_t len)
{
	struct io_uring_sqe *sqe = dn_be_get_sqe(req);

	if (!sqe)
		return false;
	req->be_priv[BE_MODE] = (uint64_t)mode;
	io_uring_prep_fallocate(sqe, req->ns->fd_buffered, mode, off, len);
	return true;
}

static bool dn_file_queue_write_zeroes(struct dn_tgt_req *req)
{
	struct dn_tgt_ns *ns = req->ns;
	uint64_t len = ((uint64_t)(dn_sqe_cdw(req->sqe, 12) & 0xffff) + 1) << ns->lba_shift;
	int mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

	/* a regular file's hole reads as zeroes: deallocating is the same as zeroing */
	if (!ns->is_blkdev &&
	    ((dn_sqe_cdw(req->sqe, 12) & DN_WZ_DEAC) || atomic_load(&ns->wz_punch)))
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return dn_file_queue_fallocate(req, mode, dn_file_offset(req), len);
}

/* Ranges named by NR; the buffer may hold more (see dn_req_map_data). */
static uint64_t dn_file_dsm_nr(const struct dn_tgt_req *req)
{
	return (dn_sqe_cdw(req->sqe, 10) & 0xff) + 1;
}

/* The next range of a deallocate with blocks in it, or false when none is left. */
static bool dn_file_next_range(struct dn_tgt_req *req, uint64_t *off, uint64_t *len)
{
	const struct nvme_dsm_range *r = req->data;
	uint64_t nr = dn_file_dsm_nr(req);

	while (req->be_priv[BE_DONE] < nr) {
		const struct nvme_dsm_range *cur = &r[req->be_priv[BE_DONE]];

		if (le32toh(cur->nlb)) {
			*off = le64toh(cur->slba) << req->ns->lba_shift;
			*len = (uint64_t)le32toh(cur->nlb) << req->ns->lba_shift;
			return true;
		}
		req->be_priv[BE_DONE]++;
	}
	return false;
}

/* Returns 0 when an operation was queued, 1 when the command is complete, or a status. */
static int dn_file_dsm_step(struct dn_tgt_req *req)
{
	uint64_t off, len;

	if (!dn_file_next_range(req, &off, &len))
		return 1;
	return dn_file_queue_fallocate(req, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len)
		       ? 0
		       : -1;
}

static void dn_file_finish(struct dn_tgt_req *req, nvme_status_t st)
{
	dn_req_complete(req, st);
}

#define DN_STATUS_BUSY NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL)

static void dn_file_cb(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_tgt_req *req = container_of(ev, struct dn_tgt_req, be_ev);
	struct dn_tgt_ns *ns = req->ns;
	int res = cqe->res;
	int step;

	switch (req->sqe->opcode) {
	case nvme_cmd_read:
	case nvme_cmd_write:
		if (res <= 0) {
			dn_file_finish(req, errno_to_nvme_status(res ? res : -EIO));
			return;
		}
		req->be_priv[BE_DONE] += (uint64_t)res;
		if (req->be_priv[BE_DONE] < req->data_len) {
			/* short transfer: queue the rest */
			if (!dn_file_queue_rw(req))
				dn_file_finish(req, DN_STATUS_BUSY);
			return;
		}
		dn_file_finish(req, 0);
		return;
	case nvme_cmd_flush:
		dn_file_finish(req, res < 0 ? errno_to_nvme_status(res) : 0);
		return;
	case nvme_cmd_write_zeroes:
		if (req->be_priv[BE_STEP] == DN_FILE_STEP_SYNC) {
			dn_file_finish(req, res < 0 ? errno_to_nvme_status(res) : 0);
			return;
		}
		if (res == -EOPNOTSUPP && !ns->is_blkdev &&
		    req->be_priv[BE_MODE] == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
			/* no zero range here (tmpfs): holes from now on */
			atomic_store(&ns->wz_punch, true);
			if (!dn_file_queue_write_zeroes(req))
				dn_file_finish(req, DN_STATUS_BUSY);
			return;
		}
		if (res < 0) {
			dn_file_finish(req, errno_to_nvme_status(res));
			return;
		}
		if (dn_sqe_cdw(req->sqe, 12) & DN_RW_FUA) {
			req->be_priv[BE_STEP] = DN_FILE_STEP_SYNC;
			if (!dn_file_queue_fsync(req))
				dn_file_finish(req, DN_STATUS_BUSY);
			return;
		}
		dn_file_finish(req, 0);
		return;
	case nvme_cmd_dsm:
		/* deallocation is advisory: a device or file system without it is fine */
		if (res < 0 && res != -EOPNOTSUPP) {
			dn_file_finish(req, errno_to_nvme_status(res));
			return;
		}
		req->be_priv[BE_DONE]++;
		step = dn_file_dsm_step(req);
		if (step)
			dn_file_finish(req, step > 0 ? 0 : DN_STATUS_BUSY);
		return;
	}
	dn_file_finish(req, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL));
}

/* Compare is rare: read synchronously into a per-thread buffer made on first use. */
static nvme_status_t dn_file_compare(struct dn_tgt_req *req)
{
	static _Thread_local void *scratch;
	uint64_t off = dn_file_offset(req);
	uint32_t done = 0;

	if (!scratch && posix_memalign(&scratch, 4096, DN_TGT_MAX_XFER))
		return NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL);
	while (done < req->data_len) {
		ssize_t n =
			pread(dn_file_fd_for(req, scratch, req->data_len),
			      (uint8_t *)scratch + done, req->data_len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return errno_to_nvme_status(n < 0 ? -errno : -EIO);
		done += (uint32_t)n;
	}
	if (memcmp(scratch, req->data, req->data_len))
		return NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED);
	return 0;
}

static nvme_status_t dn_file_check_dsm(struct dn_tgt_req *req)
{
	const struct nvme_dsm_range *r = req->data;
	uint64_t nr = dn_file_dsm_nr(req), i;

	for (i = 0; i < nr; i++) {
		uint64_t slba = le64toh(r[i].slba), nlb = le32toh(r[i].nlb);

		if (slba > req->ns->nlbas || nlb > req->ns->nlbas - slba)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE);
	}
	return 0;
}

static void dn_file_submit(struct dn_tgt_req *req)
{
	bool queued;
	int step;
	nvme_status_t st;

	req->be_ev.cb = dn_file_cb;
	req->be_priv[BE_STEP] = DN_FILE_STEP_MAIN;
	req->be_priv[BE_DONE] = 0;
	req->be_priv[BE_MODE] = 0;

	switch (req->sqe->opcode) {
	case nvme_cmd_read:
	case nvme_cmd_write:
		if (req->ns->mem_backed) {
			dn_file_finish(req, dn_file_rw_mem(req));
			return;
		}
		queued = dn_file_queue_rw(req);
		break;
	case nvme_cmd_flush:
		queued = dn_file_queue_fsync(req);
		break;
	case nvme_cmd_write_zeroes:
		queued = dn_file_queue_write_zeroes(req);
		break;
	case nvme_cmd_dsm:
		st = dn_file_check_dsm(req);
		if (st || !(dn_sqe_cdw(req->sqe, 11) & NVME_DSMGMT_AD)) {
			dn_file_finish(req, st);
			return;
		}
		step = dn_file_dsm_step(req);
		if (step > 0) {
			dn_file_finish(req, 0);
			return;
		}
		queued = step == 0;
		break;
	case nvme_cmd_compare:
		dn_file_finish(req, dn_file_compare(req));
		return;
	default:
		dn_file_finish(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
		return;
	}
	if (!queued)
		dn_file_finish(req, DN_STATUS_BUSY);
}

const struct dn_tgt_backend_ops dn_tgt_backend_file = {
	.name = "file",
	.open = dn_file_open,
	.close = dn_file_close,
	.submit = dn_file_submit,
};
