# The periodic cleanup of offline users (the seed's 5-minute rufus task): chat sessions of
# users who are no longer in juggernautd's presence are closed. Messages are in the
# database from the moment they were sent, so closing a session loses nothing.
Rails.application.config.after_initialize do
  next if defined?(Rails::Console) || ENV["CHAT_NO_CLEANUP"]
  every = Rails.application.config.x.cleanup_every
  Thread.new do
    loop do
      sleep every
      begin
        Rails.application.executor.wrap { ChatSession.close_offline! }
      rescue StandardError => e
        Rails.logger.warn("cleanup: #{e.class}: #{e.message}")
      end
    end
  end
end
