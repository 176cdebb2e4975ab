class ApplicationController < ActionController::Base
  before_action :require_login
  helper_method :current_user

  private

  def current_user
    @current_user ||= session[:user_id] && User.find_by(id: session[:user_id])
  end

  # The signed-in user's open chat session; a new one when the last was closed (by the
  # cleanup while the user was away) so that what follows is in a session of its own.
  def current_chat_session
    s = ChatSession.find_by(id: session[:chat_session_id])
    return s if s && !s.ended_at
    s = current_user.chat_sessions.create!(started_at: Time.current)
    session[:chat_session_id] = s.id
    s
  end

  def require_login
    redirect_to "/login" unless current_user
  end
end
