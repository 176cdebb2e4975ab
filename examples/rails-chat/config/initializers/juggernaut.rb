# Rails publishes through Redis exactly as with the original gem; REDIS_URL is the setting.
Juggernaut.url = ENV.fetch("REDIS_URL", "redis://127.0.0.1:6379")
Juggernaut.auth_secret = ENV.fetch("JUGGERNAUT_AUTH_SECRET")
