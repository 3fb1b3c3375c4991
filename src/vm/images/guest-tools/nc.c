// nc (and ncat) of virtmesh's built-in guest: the common uses of Nmap's ncat, which is
// what Fedora's nc is, as a small static program. Under CPU emulation (TCG) the
// dynamically linked ncat takes about 80 ms to start, and the walkthrough's
// `while true; do nc -lp 8080 -c "..."; done` refuses connections for that long between
// two runs. Handled here, with ncat's option syntax (-lp 8080, -l -p 8080, -l 8080):
//   nc -l [-k] [-4] [-n] [-p PORT] [ADDR] [PORT] (-c CMD | -e PROG)   serve: CMD gets the connection as stdin and stdout
//   nc -l [-4] [-n] [-p PORT] [ADDR] [PORT]                           one connection, relayed to stdin and stdout
//   nc [-4] [-n] [-z] [-w TIME] HOST PORT [-c CMD | -e PROG]          connect: relay, run CMD, or only try (-z)
// Anything else (other options, UDP, SSL, -v, a host name to listen on) runs the real
// ncat, REAL_NCAT, with the same arguments, so nothing ncat does is lost.
//
// A loop of one-connection listeners: even a fast nc leaves the port closed from one
// accepted connection until the next run listens (the command's run, the shell's loop and
// the new start: tens of milliseconds under TCG), and a second client (a readiness probe)
// meets that gap now and then. So an nc that ends leaves a holder behind for HANDOFF_MS,
// named after the port (an abstract unix socket). The next nc -l for the same port asks it:
// a holder with the listening socket hands it over (SCM_RIGHTS) and the port never closes;
// one without says "a loop", and that nc keeps its listener while it serves (connections
// wait in the backlog instead of being refused) and leaves it to the next. A single nc
// (no predecessor) behaves as ncat: it stops listening once it has its connection.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef REAL_NCAT
#define REAL_NCAT "/usr/libexec/virtmesh/ncat"
#endif
#define HANDOFF_MS 1000 // how long an ended nc waits for the next run of its loop

static char **args;

#include "handover.h"

// Hands the whole command line to the real ncat.
static void fallback(void) { exec_real(REAL_NCAT, args); }

static void die(int status, const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "Ncat: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
  exit(status);
}

// A port number, or -1.
static int port_of(const char *s) {
  char *end;
  long n = strtol(s, &end, 10);
  return *s && !*end && n >= 0 && n <= 65535 ? (int)n : -1;
}

// ncat's times: seconds, or a number with ms, s, m or h. -1 when malformed.
static long millis_of(const char *s) {
  char *end;
  double n = strtod(s, &end);
  double unit = !strcmp(end, "ms") ? 1 : !*end || !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000 : !strcmp(end, "h") ? 3600000 : -1;
  return end == s || unit < 0 || n < 0 ? -1 : (long)(n * unit);
}

// Writes all of buf; 0 on success.
static int write_all(int fd, const char *buf, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= w;
  }
  return 0;
}

// ncat's variables for the program it runs, e.g. NCAT_REMOTE_ADDR=10.0.2.1.
static void export_address(const char *name_addr, const char *name_port, struct sockaddr_storage *sa) {
  char host[INET6_ADDRSTRLEN] = "", port[8] = "";
  getnameinfo((struct sockaddr *)sa, sizeof *sa, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
  // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; ncat, with a socket per family, shows a.b.c.d.
  setenv(name_addr, strncmp(host, "::ffff:", 7) || !strchr(host, '.') ? host : host + 7, 1);
  setenv(name_port, port, 1);
}

// Runs CMD (with /bin/sh -c) or PROG (split at blanks, no PATH search, as ncat's -e) with
// the connection as stdin and stdout. Waits for it, then closes the connection once what
// the peer sent is read: closing with unread data would send a reset instead of a FIN, and
// an HTTP client could lose the answer.
static void serve(int fd, const char *cmd, const char *prog) {
  struct sockaddr_storage local, remote;
  socklen_t len = sizeof local;
  getsockname(fd, (struct sockaddr *)&local, &len);
  len = sizeof remote;
  getpeername(fd, (struct sockaddr *)&remote, &len);
  pid_t pid = fork();
  if (pid < 0) die(1, "fork: %s.", strerror(errno), "");
  if (pid == 0) {
    export_address("NCAT_REMOTE_ADDR", "NCAT_REMOTE_PORT", &remote);
    export_address("NCAT_LOCAL_ADDR", "NCAT_LOCAL_PORT", &local);
    setenv("NCAT_PROTO", "TCP", 1);
    signal(SIGPIPE, SIG_DFL);
    dup2(fd, 0);
    dup2(fd, 1);
    close(fd);
    if (cmd) {
      execl("/bin/sh", "sh", "-c", cmd, (char *)0);
    } else {
      char *argv[64], *copy = strdup(prog);
      int n = 0;
      for (char *t = strtok(copy, " \t"); t && n < 63; t = strtok(0, " \t")) argv[n++] = t;
      argv[n] = 0;
      if (n) execv(argv[0], argv);
    }
    fprintf(stderr, "exec: %s\n", strerror(errno));
    _exit(127);
  }
  while (waitpid(pid, 0, 0) < 0 && errno == EINTR) {
  }
  char buf[4096];
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
  close(fd);
}

// Copies between the connection and stdin/stdout until the peer closes. In connect mode
// the end of stdin ends it too (as ncat does, unless --no-shutdown); in listen mode not.
static int relay(int fd, int listening) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
  char buf[16384];
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (p[0].revents) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return 0;
      if (write_all(1, buf, n)) return 1;
    }
    if (p[1].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) {
        if (!listening) return 0;
        p[1].fd = -1; // stdin is done; go on receiving
      } else if (write_all(fd, buf, n)) {
        return 1;
      }
    }
  }
}

static void reap(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
  errno = saved;
}

// The holder's name for a listening address: "\0virtmesh-nc ADDR PORT FAMILIES".
static socklen_t holder_name(struct sockaddr_un *un, const char *addr, int port, int v4only) {
  memset(un, 0, sizeof *un);
  un->sun_family = AF_UNIX;
  int n = snprintf(un->sun_path + 1, sizeof un->sun_path - 1, "virtmesh-nc %s %d %s", addr ? addr : "*", port, v4only ? "4" : "46");
  return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

// Asks the holder an earlier nc left for this port: its listening socket (or -1), and
// whether there was one at all (then this nc runs in a loop).
static int take_over(struct sockaddr_un *un, socklen_t len, int *loop) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd = -1;
  struct timeval wait = {.tv_sec = 1};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  if (s >= 0 && connect(s, (struct sockaddr *)un, len) == 0) {
    char byte, control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(s, &msg, MSG_CMSG_CLOEXEC) == 1) {
      *loop = 1;
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
  }
  if (s >= 0) close(s);
  return fd;
}

// Leaves a holder for HANDOFF_MS with the listening socket lfd (or -1: only the news that a
// loop may follow), and returns. The holder keeps no other file open: a shell reading
// nc's output must see its end when nc ends.
static void hand_over(int lfd, struct sockaddr_un *un, socklen_t len) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || bind(s, (struct sockaddr *)un, len) < 0 || listen(s, 4) < 0 || fork() != 0) {
    if (s >= 0) close(s); // the parent, or no holder (another one holds the name)
    if (lfd >= 0) close(lfd);
    return;
  }
  int null = open("/dev/null", O_RDWR);
  for (int i = 0; i < 3; i++) dup2(null, i);
  for (int fd = 3; fd < 1024; fd++)
    if (fd != s && fd != lfd) close(fd);
  struct pollfd p = {.fd = s, .events = POLLIN};
  if (poll(&p, 1, HANDOFF_MS) == 1) {
    int next = accept(s, 0, 0);
    char byte = 'L', control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (lfd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &lfd, sizeof lfd);
    }
    if (next >= 0) sendmsg(next, &msg, MSG_NOSIGNAL);
  }
  _exit(0); // unclaimed: the listener closes, as it would have when the last nc ended
}

static int do_listen(const char *addr, int port, int v4only, int keep, const char *cmd, const char *prog) {
  struct sockaddr_storage sa = {0};
  struct sockaddr_in *in4 = (struct sockaddr_in *)&sa;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
  int family = v4only ? AF_INET : AF_INET6, fd = -1, one = 1, zero = 0, loop = 0;
  if (addr) family = strchr(addr, ':') ? AF_INET6 : AF_INET;
  struct sockaddr_un holder;
  socklen_t holder_len = holder_name(&holder, addr, port, v4only);
  if (!keep && (fd = take_over(&holder, holder_len, &loop)) >= 0) goto listening;
  fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 && family == AF_INET6 && !addr) fd = socket(family = AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); // no IPv6 in this kernel
  if (fd < 0) die(2, "socket: %s. QUITTING.", strerror(errno), "");
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) {
    // Without an address, one socket for both families, as ncat's two listeners.
    if (!addr) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_any;
    if (addr && inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1) fallback();
  } else {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    in4->sin_addr.s_addr = htonl(INADDR_ANY);
    if (addr && inet_pton(AF_INET, addr, &in4->sin_addr) != 1) fallback();
  }
  if (bind(fd, (struct sockaddr *)&sa, family == AF_INET6 ? sizeof *in6 : sizeof *in4) < 0) {
    char where[INET6_ADDRSTRLEN + 8];
    snprintf(where, sizeof where, "%s:%d", addr ? addr : family == AF_INET6 ? "::" : "0.0.0.0", port);
    die(2, "bind to %s: %s. QUITTING.", where, strerror(errno));
  }
  if (listen(fd, 10) < 0) die(2, "listen: %s. QUITTING.", strerror(errno), "");
listening:
  if (keep) {
    struct sigaction sig = {.sa_handler = reap, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigaction(SIGCHLD, &sig, 0);
  }
  for (;;) {
    int conn = accept4(fd, 0, 0, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die(1, "accept: %s.", strerror(errno), "");
    }
    if (!keep) {
      // ncat takes one connection and refuses the next; in a loop the next nc takes the listener over.
      if (!loop) close(fd), fd = -1;
      int status = 0;
      if (!cmd && !prog) status = relay(conn, 1);
      else serve(conn, cmd, prog);
      hand_over(fd, &holder, holder_len);
      return status;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(fd);
      signal(SIGCHLD, SIG_DFL);
      serve(conn, cmd, prog);
      _exit(0);
    }
    close(conn);
  }
}

static int do_connect(const char *host, const char *port, int numeric, int v4only, long wait_ms, int zero_io, const char *cmd, const char *prog) {
  struct addrinfo hints = {.ai_family = v4only ? AF_INET : AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = numeric ? AI_NUMERICHOST : 0}, *res;
  int err = getaddrinfo(host, port, &hints, &res);
  if (err) die(2, "Could not resolve hostname \"%s\": %s. QUITTING.", host, gai_strerror(err));
  int fd = -1, saved = ECONNREFUSED;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (wait_ms > 0 ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) continue;
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r < 0 && errno == EINPROGRESS) {
      // -w: how long the connect may take
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      socklen_t len = sizeof r;
      if (poll(&p, 1, wait_ms) == 0) die(1, "TIMEOUT.", "", "");
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &len);
      errno = r;
      r = r ? -1 : 0;
    }
    if (r < 0) {
      saved = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) die(1, "%s.", strerror(saved), "");
  if (wait_ms > 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (zero_io) return 0;
  if (cmd || prog) {
    serve(fd, cmd, prog);
    return 0;
  }
  return relay(fd, 0);
}

int main(int argc, char **argv) {
  args = argv;
  const char *lport = 0, *cmd = 0, *prog = 0, *wait_arg = 0, *pos[3];
  int listening = 0, keep = 0, numeric = 0, v4only = 0, zero_io = 0, npos = 0;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (!strcmp(a, "--")) {
      while (++i < argc && npos < 3) pos[npos++] = argv[i];
      break;
    }
    if (a[0] != '-' || !a[1]) {
      if (npos == 3) fallback();
      pos[npos++] = a;
      continue;
    }
    if (a[1] == '-') {
      // Long options, as --name VALUE or --name=VALUE.
      char *eq = strchr(a, '=');
      size_t n = eq ? (size_t)(eq - a) : strlen(a);
      const char *names[] = {"--listen", "--keep-open", "--nodns", "--source-port", "--sh-exec", "--exec", "--wait", 0};
      int k = 0;
      while (names[k] && (strlen(names[k]) != n || strncmp(a, names[k], n))) k++;
      if (!names[k]) fallback();
      const char *value = 0;
      if (k >= 3) {
        value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : 0);
        if (!value) fallback();
      } else if (eq) {
        fallback();
      }
      switch (k) {
      case 0: listening = 1; break;
      case 1: keep = 1; break;
      case 2: numeric = 1; break;
      case 3: lport = value; break;
      case 4: cmd = value; break;
      case 5: prog = value; break;
      case 6: wait_arg = value; break;
      }
      continue;
    }
    // Short options, combined as getopt allows: -lp 8080, -lp8080, -lk -p 8080.
    for (char *c = a + 1; *c; c++) {
      if (strchr("lkn4z", *c)) {
        listening |= *c == 'l', keep |= *c == 'k', numeric |= *c == 'n', v4only |= *c == '4', zero_io |= *c == 'z';
        continue;
      }
      if (!strchr("pcew", *c)) fallback();
      const char *value = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : 0);
      if (!value) fallback();
      if (*c == 'p') lport = value;
      if (*c == 'c') cmd = value;
      if (*c == 'e') prog = value;
      if (*c == 'w') wait_arg = value;
      break;
    }
  }
  if (cmd && prog) fallback();
  signal(SIGPIPE, SIG_IGN);
  if (listening) {
    // nc -l [-p PORT] [ADDR] [PORT]: one positional is the port unless -p gave it.
    const char *addr = 0, *port = lport;
    if (npos == 2 && !lport) addr = pos[0], port = pos[1];
    else if (npos == 1 && lport) addr = pos[0];
    else if (npos == 1) port = pos[0];
    else if (npos) fallback();
    if (zero_io || wait_arg || (keep && !cmd && !prog) || !port) fallback();
    int p = port_of(port);
    if (p < 0) fallback();
    return do_listen(addr, p, v4only, keep, cmd, prog);
  }
  long wait_ms = wait_arg ? millis_of(wait_arg) : 0;
  if (npos != 2 || lport || keep || port_of(pos[1]) <= 0 || wait_ms < 0) fallback();
  return do_connect(pos[0], pos[1], numeric, v4only, wait_ms, zero_io, cmd, prog);
}
