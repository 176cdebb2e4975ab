# frozen_string_literal: true
#
# Ruby client for juggernautd: a drop-in for the original `juggernaut` gem (2.1.x), whose
# whole API is Juggernaut.publish, Juggernaut.subscribe and the Redis settings
# (Juggernaut.options / Juggernaut.url= / Juggernaut.redis_options, or REDIS_URL, which
# redis-rb reads when no :url is given). What juggernautd adds is below the original API.
require "redis"
require "json"
require "openssl"
require "net/http"
require "uri"

module Juggernaut
  VERSION = "2.2.0"

  EVENTS = [
    "juggernaut:subscribe",
    "juggernaut:unsubscribe",
    "juggernaut:custom"
  ].freeze

  # Raised by the HTTP publish API on any answer other than 200.
  class Error < StandardError; end

  # --- the original gem's API -------------------------------------------------------------

  # Redis connection options, passed to Redis.new (e.g. {url: "redis://10.0.0.5:6379/0"}).
  def options
    @options ||= {}
  end

  def options=(val)
    @options = val
    @redis = nil
  end

  # The older gem's name for the same settings (teambox-era releases).
  alias redis_options options
  alias redis_options= options=

  # Shortcut: Juggernaut.url = "redis://host:port/db".
  def url=(url)
    options[:url] = url
    @redis = nil
  end

  # Publishes +data+ to +channels+ (a name or an array) through Redis, as the original did:
  # PUBLISH juggernaut {"channels":[...],"data":...,<options>}. options[:except] is a
  # session id or an array of them that will not receive the message.
  def publish(channels, data, options = {})
    message = { channels: Array(channels).uniq, data: data }.merge(options)
    redis.publish(key, message.to_json)
  end

  # Blocks and yields (event, payload) for every juggernaut:subscribe / unsubscribe /
  # custom event: event is :subscribe, :unsubscribe or :custom, payload the parsed JSON
  # ({"channel", "meta", "session_id"} or {"meta", "session_id", "data"}).
  def subscribe
    Redis.new(options).subscribe(*EVENTS) do |on|
      on.message do |type, msg|
        yield(type.sub(/^juggernaut:/, "").to_sym, JSON.parse(msg))
      end
    end
  end

  def redis
    @redis ||= Redis.new(options)
  end

  # --- juggernautd additions --------------------------------------------------------------

  # The shared secret of juggernautd's `auth-secret` (default: ENV["JUGGERNAUT_AUTH_SECRET"]).
  attr_writer :auth_secret

  def auth_secret
    @auth_secret || ENV["JUGGERNAUT_AUTH_SECRET"] ||
      raise(Error, "set Juggernaut.auth_secret or JUGGERNAUT_AUTH_SECRET")
  end

  # The signature a browser session needs to subscribe to a private channel (one whose name
  # starts with juggernautd's `private-prefix`): hex(HMAC-SHA256(auth-secret,
  # "<session_id>:<channel>")). Answer the client's `authorize` request with it.
  def sign_subscription(session_id, channel, secret = auth_secret)
    OpenSSL::HMAC.hexdigest("SHA256", secret, "#{session_id}:#{channel}")
  end

  # The signature for a client's meta (`signMeta: true` in application.js, required by
  # `require-meta-auth yes`): HMAC over "<session_id>:<JSON of meta>". Give +meta+ as the
  # exact JSON text the client sent, or as a Hash (generated like JSON.stringify does).
  def sign_meta(session_id, meta, secret = auth_secret)
    text = meta.is_a?(String) ? meta : JSON.generate(meta)
    OpenSSL::HMAC.hexdigest("SHA256", secret, "#{session_id}:#{text}")
  end

  # Who is subscribed to +channel+ right now (cluster mode), read from Redis
  # (jg:presence-count:<channel>): an array of {"meta" => <meta or nil>, "sessions" => n},
  # one per identity (two tabs of one user are one member with "sessions" => 2).
  # A session without meta is a member of its own with "meta" => nil.
  def presence(channel)
    redis.hgetall("jg:presence-count:#{channel}").filter_map do |identity, count|
      n = count.to_i
      next if n <= 0
      meta = identity.start_with?("sid:") ? nil : JSON.parse(identity)
      { "meta" => meta, "sessions" => n }
    end
  end

  # The messages published to +channel+ after sequence number +seq+ that the channel's
  # history still holds (cluster mode, `history` setting), oldest first, each the parsed
  # message with its "seq". Pass seq 0 for the whole history; +limit+ caps the count (at
  # most 1,000 per call: page with since: the last seq). Reads through FCALL jg_history,
  # so it does not depend on how the history is stored.
  # Check history_floor(channel) to know whether anything after +seq+ was trimmed.
  def history(channel, since: 0, limit: nil)
    args = ["FCALL", "jg_history", "0", channel.to_s, Integer(since).to_s]
    args << Integer(limit).to_s if limit
    redis.call(args).drop(1).each_slice(2).map do |seq, json|
      JSON.parse(json).merge("seq" => seq.to_i)
    end
  end

  # The highest sequence number at or below which +channel+'s history may have lost
  # messages: a history(channel, since: s) with s < floor has lost messages, or cannot vouch
  # that it has not (below the channel's first message when nothing of it was trimmed).
  def history_floor(channel)
    redis.call(["FCALL", "jg_history", "0", channel.to_s, "0", "0"]).first.to_i
  end

  # Where the HTTP publish API is: the daemon's admin port, e.g.
  # "http://127.0.0.1:8081" (default: ENV["JUGGERNAUT_ADMIN_URL"]).
  attr_writer :admin_url
  # juggernautd's `publish-token` (default: ENV["JUGGERNAUT_PUBLISH_TOKEN"]).
  attr_writer :publish_token

  def admin_url
    @admin_url || ENV["JUGGERNAUT_ADMIN_URL"] || raise(Error, "set Juggernaut.admin_url")
  end

  def publish_token
    @publish_token || ENV["JUGGERNAUT_PUBLISH_TOKEN"] || raise(Error, "set Juggernaut.publish_token")
  end

  # Publishes like #publish, but over HTTP (POST /publish on the admin port, with
  # "Authorization: Bearer <publish-token>") instead of Redis: no Redis client needed in the
  # app, and the message is sequenced before the call returns. Returns its seq (Integer).
  def publish_http(channels, data, options = {})
    message = { channels: Array(channels).uniq, data: data }.merge(options)
    uri = URI.join(admin_url, "/publish")
    req = Net::HTTP::Post.new(uri, "Content-Type" => "application/json",
                                   "Authorization" => "Bearer #{publish_token}")
    req.body = message.to_json
    res = Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 10) { |h| h.request(req) }
    raise Error, "POST /publish: #{res.code} #{res.body.to_s.strip}" unless res.code == "200"
    JSON.parse(res.body).fetch("seq")
  end

  protected

  def key(*args)
    args.unshift(:juggernaut).join(":")
  end

  extend self
end
