/* notify.h: systemd's readiness protocol (sd_notify), spoken directly: one datagram to
 * $NOTIFY_SOCKET. A no-op when not started by systemd with Type=notify. */
#ifndef JG_NOTIFY_H
#define JG_NOTIFY_H

/* Sends STATE (e.g. "READY=1", "STOPPING=1", "RELOADING=1") if $NOTIFY_SOCKET is set. */
void jg_notify(const char *state);

#endif /* JG_NOTIFY_H */
