/* console.h: the admin console (README "Admin console"): one static page on the admin port
 * (GET /console, drawn by its own JavaScript, no framework) and the small JSON endpoints it
 * polls, all behind the admin API's credential, the publish-token. Loop thread only. */
#ifndef JG_CONSOLE_H
#define JG_CONSOLE_H
#include <stdbool.h>

struct jg_conn;

/* A request on the admin port whose path starts with "/console"; REST is what follows it:
 *   "" or "/"            GET: the page (HTML with its script and style inline)
 *   "/state"             GET: {"stats":{...},"cluster":bool,"instance":id,"leader":id,
 *                              "members":[{"id","state","sessions"}]} (members from Redis)
 *   "/presence/<name>"   GET: GET /presence/<name> (cluster mode)
 *   "/publish"           POST, Content-Type: application/json: PUBLISH juggernaut <body>
 * The credential: "Authorization: Basic" (any user name, the token as password: what the
 * browser asks for) or "Bearer <token>". Without publish-token the console is off (404). */
void jg_console_request(struct jg_conn *c, const char *rest);
/* True when AUTHORIZATION (an Authorization header, may be NULL) carries TOKEN: "Bearer
 * TOKEN", or "Basic" with any user name and TOKEN as the password. False when TOKEN is NULL
 * or empty. */
bool jg_console_credential_ok(const char *token, const char *authorization);

#endif /* JG_CONSOLE_H */
