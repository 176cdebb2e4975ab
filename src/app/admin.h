/* admin.h: cluster mode's operator endpoints on the admin port: POST /publish (a Juggernaut
 * publish sequenced atomically, behind the publish-token) and GET /presence/<channel>. */
#ifndef JG_ADMIN_H
#define JG_ADMIN_H

struct jg_conn;

/* POST /publish: the body is a Juggernaut publish; "Authorization: Bearer <publish-token>". */
void jg_admin_publish(struct jg_conn *c);
/* GET /presence/<channel> (CHANNEL already decoded). */
void jg_admin_presence(struct jg_conn *c, const char *channel);

#endif /* JG_ADMIN_H */
