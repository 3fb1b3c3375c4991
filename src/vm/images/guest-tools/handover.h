// Handing a command line over to the real, dynamically linked program (shared by nc.c and
// curl.c). The image keeps the real programs, with the libraries only they load, packed
// in REAL_ARCHIVE: a 128 MiB guest has too little memory at boot for the kernel to unpack
// them with everything else. /init unpacks them in the background after boot and then
// makes REAL_READY; a hand-over that comes earlier waits for that (a minute at most).

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef REAL_ARCHIVE
#define REAL_ARCHIVE "/usr/lib/virtmesh/real-tools.cpio.gz"
#endif
#ifndef REAL_READY
#define REAL_READY "/run/virtmesh-real-tools.ready"
#endif

static void exec_real(const char *real, char **argv) {
  for (int i = 0; i < 1200 && access(REAL_READY, F_OK) != 0 && (access(REAL_ARCHIVE, F_OK) == 0 || access(real, X_OK) != 0); i++) usleep(50000);
  execv(real, argv);
  fprintf(stderr, "%s: cannot run %s: %s\n", argv[0], real, strerror(errno));
  exit(127);
}
