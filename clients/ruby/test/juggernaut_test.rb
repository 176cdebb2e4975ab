require_relative "helper"

class JuggernautTest < Minitest::Test
  def setup
    @env = JugTest.start
    Juggernaut.options = { url: @env[:redis_url] }
    Juggernaut.admin_url = @env[:admin_url]
    Juggernaut.publish_token = JugTest::PUBLISH_TOKEN
    Juggernaut.auth_secret = JugTest::AUTH_SECRET
    @chan = "chat-#{name}-#{rand(1 << 30)}"
  end

  def test_publish_reaches_subscriber_with_data_and_channel
    c = JugTest::Client.new(@env[:port])
    c.subscribe(@chan)
    wait_subscribed(@chan, 1)
    Juggernaut.publish(@chan, { "text" => "hi" })
    msg = c.wait_for { |m| m["channel"] == @chan }
    refute_nil msg, "no message delivered: #{c.messages.inspect}"
    assert_equal({ "text" => "hi" }, msg["data"])
    assert_kind_of Integer, msg["seq"]
  end

  def test_publish_except_skips_that_session_only
    a = JugTest::Client.new(@env[:port])
    b = JugTest::Client.new(@env[:port])
    [a, b].each { |c| c.subscribe(@chan) }
    wait_subscribed(@chan, 2)
    Juggernaut.publish(@chan, "one", except: a.sid)
    Juggernaut.publish(@chan, "two")
    refute_nil b.wait_for { |m| m["data"] == "two" }
    refute_nil a.wait_for { |m| m["data"] == "two" }
    assert_equal %w[one two], b.messages.map { |m| m["data"] }
    assert_equal %w[two], a.messages.map { |m| m["data"] }, "the excepted session got the message"
  end

  def test_url_setting_and_redis_url_env_like_the_original
    Juggernaut.options = {}
    Juggernaut.url = @env[:redis_url]
    assert_equal @env[:redis_url], Juggernaut.options[:url]
    # PUBLISH answers how many Redis clients got it: the one juggernautd of this test
    assert_equal 1, Juggernaut.publish("nobody-#{@chan}", 1)
    Juggernaut.options = {}
    old = ENV["REDIS_URL"]
    ENV["REDIS_URL"] = @env[:redis_url]
    assert_equal 1, Juggernaut.publish("nobody-#{@chan}", 1), "REDIS_URL not honoured"
  ensure
    ENV["REDIS_URL"] = old
  end

  def test_subscribe_yields_subscribe_custom_unsubscribe_events
    events = Queue.new
    t = Thread.new { Juggernaut.subscribe { |type, data| events << [type, data] } }
    sleep 0.2 until Juggernaut.redis.call("PUBSUB", "NUMSUB", "juggernaut:custom")[1].to_i > 0
    c = JugTest::Client.new(@env[:port])
    c.send_json(type: "meta", data: { "user_id" => 7 })
    c.subscribe(@chan)
    c.send_json(type: "event", data: { "typing" => true })
    got = []
    deadline = Time.now + 5
    got << pop(events) until got.compact.map(&:first).include?(:custom) || Time.now > deadline
    sub = got.compact.find { |type, d| type == :subscribe && d["channel"] == @chan }
    refute_nil sub, got.inspect
    assert_equal({ "user_id" => 7 }, sub[1]["meta"])
    assert_equal c.sid, sub[1]["session_id"]
    custom = got.compact.find { |type, _| type == :custom }
    assert_equal({ "typing" => true }, custom[1]["data"])
    c.send_json(type: "unsubscribe", channel: @chan)
    unsub = nil
    deadline = Time.now + 5
    unsub = pop(events) until (unsub && unsub[0] == :unsubscribe) || Time.now > deadline
    refute_nil unsub, "no unsubscribe event"
    assert_equal @chan, unsub[1]["channel"]
  ensure
    t&.kill
  end

  def test_sign_subscription_opens_a_private_channel_and_wrong_one_is_refused
    chan = "private-#{@chan}"
    good = JugTest::Client.new(@env[:port])
    bad = JugTest::Client.new(@env[:port])
    good.subscribe(chan, auth: Juggernaut.sign_subscription(good.sid, chan))
    bad.subscribe(chan, auth: Juggernaut.sign_subscription(good.sid, chan)) # another session's
    refute_nil bad.wait_for { |m| m.key?("error") }, "no refusal: #{bad.messages.inspect}"
    wait_subscribed(chan, 1)
    Juggernaut.publish(chan, "secret")
    refute_nil good.wait_for { |m| m["data"] == "secret" }
    assert_nil bad.wait_for(1) { |m| m["data"] == "secret" }
    assert_equal OpenSSL::HMAC.hexdigest("SHA256", JugTest::AUTH_SECRET, "s1:{\"user_id\":1}"),
                 Juggernaut.sign_meta("s1", { "user_id" => 1 })
  end

  def test_presence_counts_identities_and_anonymous_sessions
    a1 = JugTest::Client.new(@env[:port])
    a2 = JugTest::Client.new(@env[:port])
    anon = JugTest::Client.new(@env[:port])
    [a1, a2].each { |c| c.send_json(type: "meta", data: { "user_id" => 1 }) }
    [a1, a2, anon].each { |c| c.subscribe(@chan, presence: true) }
    deadline = Time.now + 5
    sleep 0.1 until Juggernaut.presence(@chan).size == 2 || Time.now > deadline
    members = Juggernaut.presence(@chan)
    assert_includes members, { "meta" => { "user_id" => 1 }, "sessions" => 2 }
    assert_includes members, { "meta" => nil, "sessions" => 1 }
    a1.send_json(type: "unsubscribe", channel: @chan)
    a2.send_json(type: "unsubscribe", channel: @chan)
    deadline = Time.now + 5
    sleep 0.1 until Juggernaut.presence(@chan).size == 1 || Time.now > deadline
    assert_equal [{ "meta" => nil, "sessions" => 1 }], Juggernaut.presence(@chan)
    assert_equal [], Juggernaut.presence("empty-#{@chan}")
  end

  def test_history_since_a_seq
    c = JugTest::Client.new(@env[:port])
    c.subscribe(@chan)
    wait_subscribed(@chan, 1)
    seqs = %w[a b c].map { |d| Juggernaut.publish_http(@chan, d) }
    all = Juggernaut.history(@chan)
    assert_equal %w[a b c], all.map { |m| m["data"] }
    assert_equal seqs, all.map { |m| m["seq"] }
    after = Juggernaut.history(@chan, since: seqs[0])
    assert_equal %w[b c], after.map { |m| m["data"] }
    assert_equal %w[b], Juggernaut.history(@chan, since: seqs[0], limit: 1).map { |m| m["data"] }
    assert_equal [], Juggernaut.history(@chan, since: seqs[2])
    assert_operator Juggernaut.history_floor(@chan), :<, seqs[0], "nothing of the channel was trimmed"
  end

  def test_publish_http_delivers_returns_seq_and_wrong_token_raises
    c = JugTest::Client.new(@env[:port])
    c.subscribe(@chan)
    wait_subscribed(@chan, 1)
    seq = Juggernaut.publish_http(@chan, { "n" => 1 })
    msg = c.wait_for { |m| m["channel"] == @chan }
    assert_equal({ "n" => 1 }, msg["data"])
    assert_equal seq, msg["seq"]
    Juggernaut.publish_token = "wrong"
    err = assert_raises(Juggernaut::Error) { Juggernaut.publish_http(@chan, 2) }
    assert_match(/403/, err.message)
  end

  def test_gemspec_builds
    Dir.mktmpdir do |d|
      out = IO.popen(["gem", "build", File.expand_path("../juggernaut.gemspec", __dir__), "-o",
                      File.join(d, "j.gem")], chdir: File.expand_path("..", __dir__), err: [:child, :out], &:read)
      assert File.size?(File.join(d, "j.gem")), out
    end
  end

  private

  # Queue#pop with a timeout (Ruby 3.1 has no pop(timeout:)): nil after one second.
  def pop(queue)
    20.times do
      return queue.pop(true)
    rescue ThreadError
      sleep 0.05
    end
    nil
  end

  # The subscribe is asynchronous (a POST); wait until juggernautd registered it.
  def wait_subscribed(chan, n)
    deadline = Time.now + 5
    until Juggernaut.redis.hgetall("jg:presence:#{chan}").size >= n
      raise "#{n} subscriptions to #{chan} never registered" if Time.now > deadline
      sleep 0.05
    end
  end
end
